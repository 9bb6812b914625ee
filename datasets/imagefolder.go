package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // registers GIF decoding
	_ "image/jpeg" // registers JPEG decoding
	_ "image/png"  // registers PNG decoding
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	_ "golang.org/x/image/bmp"  // registers BMP decoding
	_ "golang.org/x/image/tiff" // registers TIFF decoding
	_ "golang.org/x/image/webp" // registers WebP decoding

	"github.com/goqat/goqat/internal/fileio"
	"github.com/goqat/goqat/tensor"
)

// Bounds of ImageFolder, checked before anything is decoded.
const (
	// DefaultMaxPixels is the largest image (width times height) an
	// ImageFolder decodes unless told otherwise: 32 megapixels.
	DefaultMaxPixels = 1 << 25
	// maxImageFileBytes is the largest image file read: 256 MiB.
	maxImageFileBytes = 256 << 20
	// maxImageFiles is the most files an image folder may list.
	maxImageFiles = 1 << 24
)

// imageExts are the file name endings an ImageFolder reads (case-insensitive);
// other files are ignored.
var imageExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true,
	".bmp": true, ".tif": true, ".tiff": true, ".webp": true,
}

// ImageFolderOptions configures OpenImageFolder. The zero value keeps the
// images' own size (they must all agree), infers the channels, crops to
// fit and fails on a bad file.
type ImageFolderOptions struct {
	// Height and Width are the size every image is resized to; both 0
	// keeps the images' own size, which must then be the same for all.
	Height, Width int
	// Channels is 1 (grayscale) or 3 (RGB); 0 infers it: 1 if every image
	// is grayscale, else 3. Colour images become grayscale by their luma
	// (0.299 R + 0.587 G + 0.114 B), grayscale ones RGB by repetition;
	// transparency is composited over black.
	Channels int
	// Fit is how an image of another aspect ratio is brought to
	// Height x Width ("" means FitCrop).
	Fit Fit
	// MaxPixels bounds width times height of one image (0 means
	// DefaultMaxPixels); a larger one is a bad file.
	MaxPixels int
	// SkipBad leaves out a file that cannot be read (reported to Warn)
	// instead of failing; otherwise the error names the file.
	SkipBad bool
	// Warn, if not nil, is told of every file left out.
	Warn func(error)
}

// ImageFolder is a Source over a folder with one subfolder per class, as
// Keras's image_dataset_from_directory and torchvision's ImageFolder read
// it: the classes are the subfolders' names, sorted; the files of each
// (searched recursively, in lexical order, hidden entries skipped) are PNG,
// JPEG, GIF, BMP, TIFF or WebP. Only the file list is held: Read decodes
// the file each time, so the folder may be larger than memory.
type ImageFolder struct {
	dir       string
	files     []string
	labels    []int
	names     []string
	h, w, c   int
	fit       Fit
	maxPixels int
}

// OpenImageFolder lists dir's class subfolders and their image files and
// reads every file's header (image.DecodeConfig, no pixel decoding) to check
// its format and size and to infer the channels and, without a target size,
// the common size. A class folder without images, a folder without class
// folders, and (unless o.SkipBad) an unreadable file are errors.
func OpenImageFolder(dir string, o ImageFolderOptions) (*ImageFolder, error) {
	if o.Fit == "" {
		o.Fit = FitCrop
	}
	if _, err := ParseFit(string(o.Fit)); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", dir, err)
	}
	if o.Channels != 0 && o.Channels != 1 && o.Channels != 3 {
		return nil, fmt.Errorf("datasets: %s: %d channels: want 1 (grayscale) or 3 (RGB)", dir, o.Channels)
	}
	if (o.Height == 0) != (o.Width == 0) || o.Height < 0 || o.Width < 0 {
		return nil, fmt.Errorf("datasets: %s: image size %dx%d: give both sides or neither", dir, o.Height, o.Width)
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	f := &ImageFolder{dir: dir, h: o.Height, w: o.Width, c: o.Channels, fit: o.Fit, maxPixels: o.MaxPixels}
	allGray := true
	var firstSize [2]int
	var firstFile string
	for _, e := range entries { // os.ReadDir sorts by name
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		label := len(f.names)
		f.names = append(f.names, e.Name())
		count := 0
		err := filepath.WalkDir(filepath.Join(dir, e.Name()), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && path != filepath.Join(dir, e.Name()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !imageExts[strings.ToLower(filepath.Ext(path))] {
				return nil
			}
			if len(f.files) >= maxImageFiles {
				return fmt.Errorf("more than %d image files", maxImageFiles)
			}
			cfg, err := f.config(path)
			if err != nil {
				if !o.SkipBad {
					return errStop{err}
				}
				if o.Warn != nil {
					o.Warn(err)
				}
				return nil
			}
			if cfg.ColorModel != color.GrayModel && cfg.ColorModel != color.Gray16Model {
				allGray = false
			}
			if firstFile == "" {
				firstFile, firstSize = path, [2]int{cfg.Height, cfg.Width}
			} else if f.h == 0 && firstSize != [2]int{cfg.Height, cfg.Width} {
				return errStop{fmt.Errorf("datasets: %s is %dx%d but %s is %dx%d: give a size to resize them to (--input HxW)",
					path, cfg.Height, cfg.Width, firstFile, firstSize[0], firstSize[1])}
			}
			f.files = append(f.files, path)
			f.labels = append(f.labels, label)
			count++
			return nil
		})
		if err != nil {
			var stop errStop
			if errors.As(err, &stop) {
				return nil, stop.err
			}
			return nil, fmt.Errorf("datasets: %s: %w", dir, err)
		}
		if count == 0 {
			return nil, fmt.Errorf("datasets: class folder %s has no images (PNG, JPEG, GIF, BMP, TIFF or WebP)", filepath.Join(dir, e.Name()))
		}
	}
	if len(f.names) == 0 {
		return nil, fmt.Errorf("datasets: %s has no class subfolders (want one folder of images per class)", dir)
	}
	if f.h == 0 {
		f.h, f.w = firstSize[0], firstSize[1]
	}
	if f.c == 0 {
		f.c = 3
		if allGray {
			f.c = 1
		}
	}
	if f.h > MaxValues/f.w/f.c {
		return nil, fmt.Errorf("datasets: %s: images of %dx%dx%d are too large", dir, f.h, f.w, f.c)
	}
	return f, nil
}

// errStop carries an error out of filepath.WalkDir unchanged.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// config reads path's image header and checks its size.
func (f *ImageFolder) config(path string) (image.Config, error) {
	file, _, err := fileio.OpenRegular(path)
	if err != nil {
		return image.Config{}, fmt.Errorf("datasets: %w", err)
	}
	defer file.Close()
	cfg, _, err := image.DecodeConfig(io.LimitReader(file, maxImageFileBytes))
	if err != nil {
		return image.Config{}, fmt.Errorf("datasets: %s: not a readable image: %w", path, err)
	}
	if err := f.checkSize(path, cfg); err != nil {
		return image.Config{}, err
	}
	return cfg, nil
}

// checkSize refuses an image with no pixels or more than maxPixels.
func (f *ImageFolder) checkSize(path string, cfg image.Config) error {
	if cfg.Width < 1 || cfg.Height < 1 {
		return fmt.Errorf("datasets: %s: image of %dx%d pixels", path, cfg.Width, cfg.Height)
	}
	if cfg.Width > f.maxPixels/cfg.Height {
		return fmt.Errorf("datasets: %s: image of %dx%d pixels is larger than the limit of %d pixels", path, cfg.Width, cfg.Height, f.maxPixels)
	}
	return nil
}

// Len is the number of image files.
func (f *ImageFolder) Len() int { return len(f.files) }

// ExampleShape is (H,W,C), the size images are resized to.
func (f *ImageFolder) ExampleShape() tensor.Shape { return tensor.Shape{f.h, f.w, f.c} }

// LabelNames are the class subfolders' names, sorted.
func (f *ImageFolder) LabelNames() []string { return f.names }

// Label is the class of file i.
func (f *ImageFolder) Label(i int) int { return f.labels[i] }

// Path is the path of file i.
func (f *ImageFolder) Path(i int) string { return f.files[i] }

// Read decodes file i, converts it to the folder's channels in [0,1] and
// resizes it to (H,W), into dst (H*W*C values).
func (f *ImageFolder) Read(i int, dst []float32) error {
	if i < 0 || i >= len(f.files) {
		return fmt.Errorf("datasets: %s: image %d of %d", f.dir, i, len(f.files))
	}
	return f.load(f.files[i], dst)
}

// load decodes the image at path into dst, (h,w,c).
func (f *ImageFolder) load(path string, dst []float32) error {
	file, size, err := fileio.OpenRegular(path)
	if err != nil {
		return fmt.Errorf("datasets: %w", err)
	}
	defer file.Close()
	if size > maxImageFileBytes {
		return fmt.Errorf("datasets: %s: %d bytes, more than the %d-byte limit of an image file", path, size, maxImageFileBytes)
	}
	data, err := io.ReadAll(io.LimitReader(file, maxImageFileBytes))
	if err != nil {
		return fmt.Errorf("datasets: %s: %w", path, err)
	}
	return DecodeImage(path, data, f.h, f.w, f.c, f.fit, f.maxPixels, dst)
}

// DecodeImage decodes one image file's bytes (PNG, JPEG, GIF, BMP, TIFF or
// WebP; name is for errors) and writes it into dst as (h,w,c) float32 in
// [0,1]: c is 1 (luma) or 3 (RGB), resized as fit says. An image of more
// than maxPixels (width times height) is refused before its pixels are
// decoded.
func DecodeImage(name string, data []byte, h, w, c int, fit Fit, maxPixels int, dst []float32) error {
	f := &ImageFolder{maxPixels: maxPixels}
	if f.maxPixels <= 0 {
		f.maxPixels = DefaultMaxPixels
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("datasets: %s: not a readable image: %w", name, err)
	}
	if err := f.checkSize(name, cfg); err != nil {
		return err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("datasets: %s: corrupt image: %w", name, err)
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return fmt.Errorf("datasets: %s: decoded %dx%d pixels, header says %dx%d", name, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	sh, sw := b.Dy(), b.Dx()
	if sh == h && sw == w {
		toFloat(img, c, dst[:h*w*c])
		return nil
	}
	src := make([]float32, sh*sw*c)
	toFloat(img, c, src)
	resizeImage(src, sh, sw, c, dst, h, w, fit)
	return nil
}

// Luma weights of the ITU-R BT.601 conversion, the ones image/color's
// GrayModel uses.
const (
	lumaR = 0.299
	lumaG = 0.587
	lumaB = 0.114
)

// toFloat writes img's pixels into dst, (H,W,c) in [0,1], row by row.
func toFloat(img image.Image, c int, dst []float32) {
	b := img.Bounds()
	i := 0
	switch m := img.(type) {
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := range b.Dx() {
				v := pixelScale[row[x]]
				for range c {
					dst[i] = v
					i++
				}
			}
		}
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yy := m.Y[m.YOffset(x, y)]
				if c == 1 {
					dst[i] = pixelScale[yy]
					i++
					continue
				}
				ci := m.COffset(x, y)
				r, g, bl := color.YCbCrToRGB(yy, m.Cb[ci], m.Cr[ci])
				dst[i], dst[i+1], dst[i+2] = pixelScale[r], pixelScale[g], pixelScale[bl]
				i += 3
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA() // premultiplied: over black
				fr, fg, fb := float32(r)/0xffff, float32(g)/0xffff, float32(bl)/0xffff
				if c == 1 {
					dst[i] = lumaR*fr + lumaG*fg + lumaB*fb
					i++
					continue
				}
				dst[i], dst[i+1], dst[i+2] = fr, fg, fb
				i += 3
			}
		}
	}
}
