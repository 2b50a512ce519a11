# A box blur of radius r (-v r=1): each pixel becomes the mean of its neighbourhood.
END {
  load(1, a)
  if (r == "") r = 1
  b["w"] = a["w"]; b["h"] = a["h"]; b["max"] = a["max"]
  for (y = 0; y < a["h"]; y++)
    for (x = 0; x < a["w"]; x++) {
      sum = 0; n = 0
      for (dy = -r; dy <= r; dy++)
        for (dx = -r; dx <= r; dx++)
          if (y + dy >= 0 && y + dy < a["h"] && x + dx >= 0 && x + dx < a["w"]) {
            sum += a[y + dy, x + dx]; n++
          }
      b[y, x] = int(sum / n + 0.5)
    }
  emit(b)
}
