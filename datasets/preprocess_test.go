package datasets

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goqat/goqat/safetensors"
)

// TestPreprocessingRoundTrip records the preprocessing of an image set and
// of a table in safetensors files, reads it back, copies it to another
// file, and checks that malformed records are errors.
func TestPreprocessingRoundTrip(t *testing.T) {
	img := PreprocessingOf(counting(3), FitCrop)
	if img.Kind != "image" || img.ChannelOrder != "L" || !slices.Equal(img.Input, []int{1, 1, 1}) || img.Fit != FitCrop ||
		!slices.Equal(img.Std, []float32{1}) || !slices.Equal(img.ClassNames, []string{"a", "b", "c"}) || !img.Identity() {
		t.Fatalf("image preprocessing %+v", img)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{"w": safetensors.F32([]int{2}, []float32{1, 2})}}
	table, err := ReadCSV(strings.NewReader("x,y,l\n1,2,u\n"), "t", "t.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	tp := PreprocessingOf(table, "")
	tp.Mean, tp.Std = []float32{1, 2}, []float32{2, 4}
	if _, err := AddPreprocessing(f, tp); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(a, f); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(b, &safetensors.File{Tensors: map[string]safetensors.Tensor{"v": safetensors.F32([]int{1}, []float32{3})}}); err != nil {
		t.Fatal(err)
	}
	if p, err := ReadPreprocessing(b); p != nil || err != nil {
		t.Errorf("a file without a record: %v %v", p, err)
	}
	if err := CopyPreprocessing(a, b); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPreprocessing(b)
	if err != nil || got.Kind != "table" || !slices.Equal(got.Input, []int{2}) || !slices.Equal(got.ClassNames, []string{"u"}) || got.Identity() {
		t.Fatalf("copied record %+v, %v", got, err)
	}
	x := []float32{3, 6, 1, 2}
	got.Normalize(x)
	if !slices.Equal(x, []float32{1, 1, 0, 0}) {
		t.Errorf("Normalize: %v", x)
	}
	fb, err := safetensors.ReadFile(b, safetensors.Limits{})
	if err != nil || fb.Tensors["v"].Shape[0] != 1 {
		t.Errorf("the copy lost the tensors: %v", err)
	}
	for _, bad := range []string{
		`{"version":2,"kind":"table","input":[2],"mean":[0,0],"std":[1,1],"class_names":["a"]}`,
		`{"version":1,"kind":"image","input":[2],"mean":[0,0],"std":[1,1],"class_names":["a"]}`,
		`{"version":1,"kind":"image","input":[2,2,3],"channel_order":"L","mean":[0,0,0],"std":[1,1,1],"class_names":["a"]}`,
		`{"version":1,"kind":"table","input":[2],"mean":[0],"std":[1,1],"class_names":["a"]}`,
		`{"version":1,"kind":"table","input":[2],"mean":[0,0],"std":[1,0],"class_names":["a"]}`,
		`{"version":1,"kind":"table","input":[2],"mean":[0,0],"std":[1,1],"class_names":[]}`,
		`{"version":1,"kind":"table","input":[2],"mean":[0,0],"std":[1,1],"class_names":["a"],"extra":1}`,
		`{"version":1,"kind":"image","input":[2,2,1],"channel_order":"L","fit":"squash","mean":[0],"std":[1],"class_names":["a"]}`,
		`not json`,
	} {
		if _, err := PreprocessingFrom(&safetensors.File{Metadata: map[string]string{PreprocessingKey: bad}}); err == nil {
			t.Errorf("record %s: no error", bad)
		}
	}
}

// TestMetadataProps checks the string pairs of an image and a table record.
func TestMetadataProps(t *testing.T) {
	img := PreprocessingOf(counting(3), FitCrop)
	props, err := img.MetadataProps()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var keys []string
	for _, p := range props {
		got[p.Key] = p.Value
		keys = append(keys, p.Key)
	}
	if want := []string{PreprocessingKey, "goqat.input_size", "goqat.channel_order", "goqat.fit", "goqat.mean", "goqat.std", "goqat.class_names"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if got["goqat.input_size"] != "1x1" || got["goqat.channel_order"] != "L" || got["goqat.class_names"] != `["a","b","c"]` {
		t.Errorf("image props %v", got)
	}
	table, err := ReadCSV(strings.NewReader("x,y,l\n1,2,u\n"), "t", "t.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	tp := PreprocessingOf(table, "")
	tp.Mean, tp.Std = []float32{1, 0.5}, []float32{2, 4}
	if props, err = tp.MetadataProps(); err != nil {
		t.Fatal(err)
	}
	got = map[string]string{}
	for _, p := range props {
		got[p.Key] = p.Value
	}
	if got["goqat.input_size"] != "2" || got["goqat.mean"] != "1,0.5" || got["goqat.std"] != "2,4" || got["goqat.channel_order"] != "" {
		t.Errorf("table props %v", got)
	}
	tp.Std = nil
	if _, err := tp.MetadataProps(); err == nil {
		t.Error("an invalid record: no error")
	}
}
