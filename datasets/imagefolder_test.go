package datasets

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeImage encodes img as PNG or JPEG (by the extension) at path,
// creating folders.
func writeImage(t testing.TB, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var err error
	if strings.HasSuffix(path, ".jpg") {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// grayImage is an h x w grayscale image whose pixel (x, y) is f(x, y).
func grayImage(h, w int, f func(x, y int) uint8) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetGray(x, y, color.Gray{Y: f(x, y)})
		}
	}
	return m
}

// rgbImage is an h x w opaque image of one colour.
func rgbImage(h, w int, c color.NRGBA) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

// TestImageFolder reads a folder of two classes (written out of order) of
// grayscale PNGs at their own size and checks class names, labels and every
// pixel; then the same folder as RGB and resized.
func TestImageFolder(t *testing.T) {
	dir := t.TempDir()
	pix := func(k int) func(x, y int) uint8 { return func(x, y int) uint8 { return uint8(k*50 + y*6 + x) } }
	writeImage(t, filepath.Join(dir, "zebra", "a.png"), grayImage(6, 5, pix(0)))
	writeImage(t, filepath.Join(dir, "cat", "b.png"), grayImage(6, 5, pix(1)))
	writeImage(t, filepath.Join(dir, "cat", "sub", "c.png"), grayImage(6, 5, pix(2)))
	if err := os.WriteFile(filepath.Join(dir, "cat", "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenImageFolder(dir, ImageFolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.LabelNames(), ","); got != "cat,zebra" {
		t.Errorf("classes %s, want cat,zebra", got)
	}
	if !f.ExampleShape().Equal([]int{6, 5, 1}) || f.Len() != 3 {
		t.Fatalf("shape %v, %d images; want (6,5,1), 3", f.ExampleShape(), f.Len())
	}
	d, err := Materialize("pets", f, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Order: cat/b.png, cat/sub/c.png, zebra/a.png.
	wantK, wantY := []int{1, 2, 0}, []float32{0, 0, 1}
	for i := range 3 {
		if d.Y.Data[i] != wantY[i] {
			t.Errorf("label %d = %v, want %v", i, d.Y.Data[i], wantY[i])
		}
		for y := range 6 {
			for x := range 5 {
				if got, want := d.X.Data[i*30+y*5+x], float32(pix(wantK[i])(x, y))/255; got != want {
					t.Fatalf("image %d pixel (%d,%d) = %v, want %v", i, x, y, got, want)
				}
			}
		}
	}

	rgb, err := OpenImageFolder(dir, ImageFolderOptions{Height: 3, Width: 3, Channels: 3, Fit: FitStretch})
	if err != nil {
		t.Fatal(err)
	}
	d, err = Materialize("pets", rgb, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !d.X.Shape.Equal([]int{3, 3, 3, 3}) {
		t.Fatalf("RGB 3x3: shape %v", d.X.Shape)
	}
	for i := 0; i < len(d.X.Data); i += 3 {
		if d.X.Data[i] != d.X.Data[i+1] || d.X.Data[i] != d.X.Data[i+2] {
			t.Fatalf("grayscale to RGB: pixel %d differs between channels: %v", i/3, d.X.Data[i:i+3])
		}
	}
}

// TestImageFolderColour checks inferred RGB, colour to luma, JPEG decoding
// and the letterbox padding of a wide image.
func TestImageFolderColour(t *testing.T) {
	dir := t.TempDir()
	red := color.NRGBA{R: 200, G: 100, B: 50, A: 255}
	writeImage(t, filepath.Join(dir, "a", "red.png"), rgbImage(4, 8, red))
	writeImage(t, filepath.Join(dir, "b", "red.jpg"), rgbImage(16, 16, red))
	f, err := OpenImageFolder(dir, ImageFolderOptions{Height: 8, Width: 8, Fit: FitPad})
	if err != nil {
		t.Fatal(err)
	}
	if f.ExampleShape()[2] != 3 {
		t.Fatalf("inferred %d channels, want 3", f.ExampleShape()[2])
	}
	d, err := Materialize("c", f, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	px := func(i, y, x, k int) float32 { return d.X.Data[i*192+(y*8+x)*3+k] }
	if px(0, 0, 0, 0) != 0 || px(0, 1, 7, 2) != 0 || px(0, 6, 0, 0) != 0 {
		t.Error("letterbox: the rows above and below a 4x8 image in 8x8 are not zero")
	}
	if px(0, 2, 0, 0) != float32(200)/255 || px(0, 5, 7, 2) != float32(50)/255 {
		t.Errorf("letterbox: image rows %v %v", px(0, 2, 0, 0), px(0, 5, 7, 2))
	}
	for k, want := range []float64{200, 100, 50} {
		if got := float64(px(1, 4, 4, k)) * 255; math.Abs(got-want) > 3 {
			t.Errorf("JPEG channel %d = %.1f, want about %v", k, got, want)
		}
	}
	gray, err := OpenImageFolder(dir, ImageFolderOptions{Height: 4, Width: 8, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Materialize("g", gray, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := (0.299*200 + 0.587*100 + 0.114*50) / 255
	if math.Abs(float64(g.X.Data[0])-want) > 1e-6 {
		t.Errorf("luma %v, want %v", g.X.Data[0], want)
	}
}

// pngHeaderOnly is a PNG signature and an IHDR chunk claiming w x h
// 8-bit grayscale pixels, with no image data.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := make([]byte, 17)
	copy(chunk, "IHDR")
	binary.BigEndian.PutUint32(chunk[4:], w)
	binary.BigEndian.PutUint32(chunk[8:], h)
	chunk[12], chunk[13] = 8, 0 // bit depth, grayscale
	_ = binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// TestImageFolderBadFiles checks that corrupt, truncated and oversized
// images name the file and fail, or are left out with SkipBad; and the
// folder-level errors.
func TestImageFolderBadFiles(t *testing.T) {
	good := func(dir string) {
		writeImage(t, filepath.Join(dir, "a", "ok.png"), grayImage(4, 4, func(x, y int) uint8 { return 1 }))
		writeImage(t, filepath.Join(dir, "b", "ok.png"), grayImage(4, 4, func(x, y int) uint8 { return 2 }))
	}
	var full bytes.Buffer
	if err := png.Encode(&full, grayImage(4, 4, func(x, y int) uint8 { return uint8(x * y * 10) })); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"garbage", "bad.png", []byte("this is not an image"), "not a readable image"},
		{"truncated", "cut.png", full.Bytes()[:full.Len()-20], "corrupt image"},
		{"too large", "huge.png", pngHeaderOnly(1<<16, 1<<16), "larger than the limit"},
		{"empty", "empty.jpg", nil, "not a readable image"},
	} {
		dir := t.TempDir()
		good(dir)
		bad := filepath.Join(dir, "b", c.file)
		if err := os.WriteFile(bad, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := Open(dir, Options{})
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", c.name, err, bad, c.want)
		}
		var warned []error
		d, _, err := Open(dir, Options{SkipBad: true, Warn: func(e error) { warned = append(warned, e) }})
		if err != nil || d.Len() != 2 || len(warned) != 1 || !strings.Contains(warned[0].Error(), bad) {
			t.Errorf("%s skipped: err %v, %v, warnings %v", c.name, err, d, warned)
		}
	}

	dir := t.TempDir()
	good(dir)
	if err := os.MkdirAll(filepath.Join(dir, "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenImageFolder(dir, ImageFolderOptions{}); err == nil || !strings.Contains(err.Error(), "has no images") {
		t.Errorf("empty class folder: %v", err)
	}
	dir = t.TempDir()
	good(dir)
	writeImage(t, filepath.Join(dir, "a", "big.png"), grayImage(5, 4, func(x, y int) uint8 { return 0 }))
	if _, err := OpenImageFolder(dir, ImageFolderOptions{}); err == nil || !strings.Contains(err.Error(), "--input") {
		t.Errorf("images of different sizes without a target size: %v", err)
	}
	if _, err := OpenImageFolder(t.TempDir(), ImageFolderOptions{}); err == nil || !strings.Contains(err.Error(), "no class subfolders") {
		t.Errorf("no class folders: %v", err)
	}
	if _, err := OpenImageFolder(dir, ImageFolderOptions{Channels: 2}); err == nil {
		t.Error("2 channels: no error")
	}
	if _, _, err := Open(dir, Options{LabelColumn: "x"}); err == nil {
		t.Error("a label column for an image folder: no error")
	}
	if err := DecodeImage("x", []byte{0x89, 'P', 'N', 'G'}, 2, 2, 1, FitCrop, 0, make([]float32, 4)); err == nil {
		t.Error("DecodeImage of a stub: no error")
	}
	if _, err := OpenImageFolder(filepath.Join(dir, "missing"), ImageFolderOptions{}); err == nil {
		t.Error("missing folder: no error")
	}
}
