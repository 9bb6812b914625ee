package convert

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/goqat/goqat/lite"
)

// TestConvertRounding converts a trained QAT model in each rounding mode:
// the mode is set on the integer model, which is otherwise the same model
// (tensors, ops, weights, biases), and it is saved and loaded with it.
func TestConvertRounding(t *testing.T) {
	qat := trainedMerge(t)
	base, err := Convert(qat)
	if err != nil {
		t.Fatal(err)
	}
	if base.Rounding != lite.RoundingGoqat {
		t.Fatalf("default conversion: rounding %q", base.Rounding)
	}
	for _, r := range []lite.Rounding{lite.RoundingTFLite, lite.RoundingTFLiteReference} {
		im, err := Convert(qat, Rounding(r), FullInteger())
		if err != nil {
			t.Fatal(err)
		}
		if im.Rounding != r {
			t.Errorf("rounding %s: converted with %q", r, im.Rounding)
		}
		full, err := Convert(qat, FullInteger())
		if err != nil {
			t.Fatal(err)
		}
		same := *im
		same.Rounding = lite.RoundingGoqat
		if !reflect.DeepEqual(&same, full) {
			t.Errorf("rounding %s: the model differs from the default conversion beyond its rounding", r)
		}
		p := filepath.Join(t.TempDir(), "m.int8.safetensors")
		if err := lite.Save(p, im); err != nil {
			t.Fatal(err)
		}
		back, err := lite.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if back.Rounding != r {
			t.Errorf("rounding %s saved, %q loaded", r, back.Rounding)
		}
	}
	if _, err := Convert(qat, Rounding("bankers")); err == nil {
		t.Error("Convert with rounding \"bankers\": no error")
	}
}
