package lite

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRegisterFormat checks that a registered format's files are told by
// their first bytes and read by its loader, that other files still go to
// the safetensors reader, and that a missing file is not sniffed.
func TestRegisterFormat(t *testing.T) {
	errFake := errors.New("fake format loaded")
	RegisterFormat(Format{Name: "fake", Sniff: func(h []byte) bool { return len(h) >= 8 && string(h[:8]) == "FAKEFMT!" },
		Load: func(string) (*Model, error) { return nil, errFake }})
	dir := t.TempDir()
	fake := filepath.Join(dir, "m.fake")
	if err := os.WriteFile(fake, []byte("FAKEFMT!rest"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := IsFile(fake); !ok || err != nil {
		t.Errorf("IsFile of a registered format: %v, %v", ok, err)
	}
	if _, err := Load(fake); !errors.Is(err, errFake) {
		t.Errorf("Load of a registered format: %v, want its loader's error", err)
	}
	other := filepath.Join(dir, "x.safetensors")
	if err := os.WriteFile(other, []byte("not safetensors at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(other); err == nil || errors.Is(err, errFake) {
		t.Errorf("Load of another file: %v, want the safetensors reader's error", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || errors.Is(err, errFake) {
		t.Errorf("Load of a missing file: %v", err)
	}
}
