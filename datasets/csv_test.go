package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCSV reads tables with string and integer labels, the label column by
// name, by index and by default, and checks every value.
func TestCSV(t *testing.T) {
	d, err := ReadCSV(strings.NewReader("a,species,b\n1.5,setosa,2\n-3,virginica,4e2\n0,setosa, 7\n"), "iris", "iris.csv", "species")
	if err != nil {
		t.Fatal(err)
	}
	if !d.X.Shape.Equal([]int{3, 2}) || !slices.Equal(d.X.Data, []float32{1.5, 2, -3, 400, 0, 7}) {
		t.Errorf("X %v %v", d.X.Shape, d.X.Data)
	}
	if !slices.Equal(d.ClassNames, []string{"setosa", "virginica"}) || !slices.Equal(d.Y.Data, []float32{0, 1, 0}) || d.Classes != 2 {
		t.Errorf("classes %v labels %v", d.ClassNames, d.Y.Data)
	}
	d, err = ReadCSV(strings.NewReader("x,y,label\n1,2,3\n4,5,0\n"), "t", "t.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Classes != 4 || !slices.Equal(d.Y.Data, []float32{3, 0}) || d.ClassNames[3] != "3" {
		t.Errorf("integer labels: %d classes %v labels %v", d.Classes, d.ClassNames, d.Y.Data)
	}
	d, err = ReadCSV(strings.NewReader("label,f\nb,1\na,2\n"), "t", "t.csv", "0")
	if err != nil || !slices.Equal(d.X.Data, []float32{1, 2}) || !slices.Equal(d.Y.Data, []float32{1, 0}) {
		t.Errorf("label column by index: %v %v", err, d)
	}
	path := filepath.Join(t.TempDir(), "table.csv")
	if err := os.WriteFile(path, []byte("f1,f2,c\n1,2,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d, err := CSV(path, "c"); err != nil || d.Name != "table" || d.Len() != 1 {
		t.Errorf("CSV(%s): %v %v", path, d, err)
	}
}

// TestCSVErrors checks that bad tables give one-line errors naming the
// line.
func TestCSVErrors(t *testing.T) {
	for _, c := range []struct{ name, data, col, want string }{
		{"empty", "", "", "empty file"},
		{"header only", "a,b\n", "", "no rows"},
		{"one column", "a\n1\n", "", "1 column"},
		{"short row", "a,b,c\n1,2,x\n3,y\n", "", "line 3"},
		{"not a number", "a,b\n1,x\nz,y\n", "", `line 3: column "a": "z" is not a finite number`},
		{"NaN", "a,b\nNaN,x\n", "", "line 2"},
		{"overflow", "a,b\n1e300,x\n", "", "line 2"},
		{"empty label", "a,b\n1,\n", "", "line 2: empty label"},
		{"no such column", "a,b\n1,2\n", "c", `no label column "c"`},
		{"index out of range", "a,b\n1,2\n", "5", "label column 5"},
		{"bad quote", "a,b\n1,\"x\n", "", "line 2"},
	} {
		_, err := ReadCSV(strings.NewReader(c.data), "t", "t.csv", c.col)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "t.csv") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line naming t.csv with %q", c.name, err, c.want)
		}
	}
}

// FuzzReadCSV checks that no input makes ReadCSV panic and that what it
// accepts is consistent.
func FuzzReadCSV(f *testing.F) {
	f.Add("a,b,label\n1,2,x\n3,4,y\n", "")
	f.Add("label,f\n1,2\n", "0")
	f.Add("a,b\n\"1\",2\n", "b")
	f.Fuzz(func(t *testing.T, data, col string) {
		d, err := ReadCSV(strings.NewReader(data), "f", "f.csv", col)
		if err != nil {
			return
		}
		if d.X.Shape.Size() != len(d.X.Data) || d.Len() != d.X.Shape[0] || len(d.ClassNames) != d.Classes {
			t.Fatalf("inconsistent dataset: X %v (%d values), %d labels, %d classes", d.X.Shape, len(d.X.Data), d.Len(), d.Classes)
		}
		for _, y := range d.Y.Data {
			if int(y) < 0 || int(y) >= d.Classes {
				t.Fatalf("label %v out of %d classes", y, d.Classes)
			}
		}
	})
}
