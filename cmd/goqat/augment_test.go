package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAugmentAndStream trains on an image folder with augmentation,
// streamed from disk, with 1 and 3 loader workers: both runs save the same
// model, byte for byte, and differ from a run without augmentation; QAT
// fine-tunes with augmentation too and the model converts.
func TestAugmentAndStream(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models: skipped in -short mode")
	}
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeClassImages(t, photos, 8, 18)
	common := []string{"train", "--model", "mnist-cnn", "--epochs", "2", "--batch", "6", "--verbose", "0",
		"--data", photos, "--input", "16x16", "--validation-split", "0.25"}
	var outs [][]byte
	for i, extra := range [][]string{
		{"--augment", "resized-crop,crop:2,flip", "--stream", "--loader-workers", "1"},
		{"--augment", "resized-crop,crop:2,flip", "--stream", "--loader-workers", "3"},
		{"--augment", "resized-crop,crop:2,flip", "--loader-workers", "2"}, // in memory, augmented
		{},
	} {
		out := filepath.Join(dir, "f"+string(rune('0'+i))+".safetensors")
		so, se, code := run(t, append(append(common, extra...), "--out", out)...)
		if code != 0 {
			t.Fatalf("train %v: exit %d\n%s%s", extra, code, so, se)
		}
		if len(extra) > 0 && (!strings.Contains(so, "augment resized-crop:0.75,crop:2,flip") || !strings.Contains(so, "Loader: 6 batches")) {
			t.Errorf("train %v: no augmentation or loader line:\n%s", extra, so)
		}
		if (i < 2) != strings.Contains(se, "streaming 18 images") {
			t.Errorf("train %v: stderr %q", extra, se)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) || !bytes.Equal(outs[0], outs[2]) {
		t.Error("augmented training differs between 1 and 3 loader workers, or streamed and in memory")
	}
	if bytes.Equal(outs[0], outs[3]) {
		t.Error("augmentation changed nothing")
	}
	float := filepath.Join(dir, "f0.safetensors")
	qat, integer := filepath.Join(dir, "q.safetensors"), filepath.Join(dir, "i.safetensors")
	so, se, code := run(t, "quantize", "--in", float, "--epochs", "1", "--batch", "6", "--calibrate", "12", "--verbose", "0",
		"--data", photos, "--validation-split", "0.25", "--augment", "flip", "--stream", "--out", qat)
	if code != 0 || !strings.Contains(so, "Loader: 3 batches") {
		t.Fatalf("quantize --augment --stream: exit %d\n%s%s", code, so, se)
	}
	if so, se, code = run(t, "convert", "--in", qat, "--out", integer); code != 0 {
		t.Fatalf("convert: exit %d\n%s%s", code, so, se)
	}
}

// TestAugmentFlagErrors checks the training data flags' errors, and that
// evaluation has no --augment.
func TestAugmentFlagErrors(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writeClassImages(t, photos, 2, 8)
	table := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(table, []byte("a,b,c\n1,2,x\n3,4,y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.safetensors")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--augment", "blur"}, `unknown augmentation "blur"`},
		{[]string{"train", "--augment", "crop:0"}, "crop padding"},
		{[]string{"train", "--augment", "flip,flip"}, "twice"},
		{[]string{"train", "--loader-workers", "0"}, "--loader-workers"},
		{[]string{"train", "--model", "mlp", "--data", table, "--validation-split", "0.5", "--augment", "flip"}, "applies to images"},
		{[]string{"train", "--data", table, "--stream"}, "--stream applies to image folders"},
		{[]string{"train", "--data", photos, "--input", "8x8", "--stream"}, "--validation-split or --val-data"},
		{[]string{"quantize", "--in", out, "--augment", "spin"}, `unknown augmentation "spin"`},
		{[]string{"eval", "--model", out, "--augment", "flip"}, "unknown flag: --augment"},
		{[]string{"predict", "--model", out, "--augment", "flip", "x.png"}, "unknown flag: --augment"},
	} {
		args := c.args
		if args[0] == "train" {
			args = append(args, "--out", out, "--epochs", "1")
		}
		if args[0] == "quantize" {
			if _, err := os.Stat(out); err != nil {
				if err := os.WriteFile(out, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		_, se, code := run(t, args...)
		if code == 0 || !strings.Contains(se, c.want) || strings.Count(strings.TrimSpace(se), "\n") > 0 || strings.Contains(se, "panic") {
			t.Errorf("goqat %v: exit %d, stderr %q (want one line mentioning %q)", args, code, se, c.want)
		}
	}
}
