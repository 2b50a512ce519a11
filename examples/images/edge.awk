# Edges: the gradient's magnitude, white where it reaches the threshold t (-v t=40).
END {
  load(1, a)
  if (t == "") t = 40
  b["w"] = a["w"]; b["h"] = a["h"]; b["max"] = a["max"]
  for (y = 0; y < a["h"]; y++)
    for (x = 0; x < a["w"]; x++) {
      gx = a[y, (x + 1 < a["w"] ? x + 1 : x)] - a[y, (x > 0 ? x - 1 : x)]
      gy = a[(y + 1 < a["h"] ? y + 1 : y), x] - a[(y > 0 ? y - 1 : y), x]
      g = (gx < 0 ? -gx : gx) + (gy < 0 ? -gy : gy)
      b[y, x] = g >= t ? a["max"] : 0
    }
  emit(b)
}
