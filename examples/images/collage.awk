# Two images side by side with a white gap of 2 pixels (same height expected).
END {
  load(1, l); load(2, r)
  c["w"] = l["w"] + 2 + r["w"]; c["h"] = l["h"]; c["max"] = l["max"]
  for (y = 0; y < c["h"]; y++) {
    for (x = 0; x < l["w"]; x++) c[y, x] = l[y, x]
    c[y, l["w"]] = c["max"]; c[y, l["w"] + 1] = c["max"]
    for (x = 0; x < r["w"]; x++) c[y, l["w"] + 2 + x] = r[y, x]
  }
  emit(c)
}
