# Reading and writing plain (P2) PGM images, shared by the steps' scripts:
#   awk -f pgm.awk -f blur.awk in.pgm > out.pgm
# Every input file's tokens are collected; load(f, img) fills img["w"], img["h"],
# img["max"] and img[y, x] from the f-th file; emit(img) prints an image.
FNR == 1 { file++ }
{ sub(/#.*/, ""); for (i = 1; i <= NF; i++) tok[file, ++count[file]] = $i }

function load(f, img,   x, y, k) {
  if (tok[f, 1] != "P2") { print "input " f " is not a plain PGM image" > "/dev/stderr"; exit 1 }
  img["w"] = tok[f, 2] + 0; img["h"] = tok[f, 3] + 0; img["max"] = tok[f, 4] + 0
  k = 5
  for (y = 0; y < img["h"]; y++)
    for (x = 0; x < img["w"]; x++) img[y, x] = tok[f, k++] + 0
}

function emit(img,   x, y, line) {
  print "P2"
  print img["w"], img["h"]
  print img["max"]
  for (y = 0; y < img["h"]; y++) {
    line = ""
    for (x = 0; x < img["w"]; x++) line = line (x ? " " : "") img[y, x]
    print line
  }
}
