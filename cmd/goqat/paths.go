package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goqat/goqat/datasets"
	"github.com/goqat/goqat/nn"
)

// pathArg is a file a command reads or writes and the flag that names it
// ("--in", "--json"; "the model" for an argument).
type pathArg struct {
	flag, path string
}

// checkPaths runs before a command does any work. It refuses an output
// (any of outputs with a path) that is a folder or not a regular file,
// whose folder is missing or cannot be written (a temporary file is
// created and removed there), that is one of the inputs, or that another
// output also names. Two paths are the same file by identity (os.SameFile:
// also through a symlink, another relative path or a hard link), or, when
// they do not both exist, when they resolve to the same absolute path.
func checkPaths(inputs, outputs []pathArg) error {
	for i, o := range outputs {
		if o.path == "" {
			continue
		}
		if err := checkWritable(o); err != nil {
			return err
		}
		for _, in := range inputs {
			if in.path != "" && samePath(in.path, o.path) {
				same := ""
				if in.path != o.path {
					same = " (the same file)"
				}
				return fmt.Errorf("%s %s would overwrite the input %s %s%s: write to another file", o.flag, o.path, in.flag, in.path, same)
			}
		}
		for _, p := range outputs[:i] {
			if p.path != "" && samePath(p.path, o.path) {
				return fmt.Errorf("%s %s and %s %s are the same file: give each output its own file", p.flag, p.path, o.flag, o.path)
			}
		}
	}
	return nil
}

// checkWritable refuses an output path that is a folder or another
// non-regular file, or whose folder is missing or not writable.
func checkWritable(o pathArg) error {
	st, err := os.Stat(o.path)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("%s %s is a folder: give a file name", o.flag, o.path)
	case err == nil && !st.Mode().IsRegular():
		return fmt.Errorf("%s %s is not a regular file", o.flag, o.path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: %v", o.flag, o.path, unwrapPath(err))
	}
	dir := filepath.Dir(o.path)
	dst, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: folder %s does not exist", o.flag, o.path, dir)
	case err != nil:
		return fmt.Errorf("%s %s: folder %s: %v", o.flag, o.path, dir, unwrapPath(err))
	case !dst.IsDir():
		return fmt.Errorf("%s %s: %s is not a folder", o.flag, o.path, dir)
	}
	f, err := os.CreateTemp(dir, ".goqat-write-check-*")
	if err != nil {
		return fmt.Errorf("%s %s: cannot write in folder %s: %v", o.flag, o.path, dir, unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// unwrapPath returns the cause of a *fs.PathError (whose message repeats
// the path), or err.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// samePath reports whether a and b name the same file: by identity when
// both exist, else by absolute path with the folders' symlinks resolved.
func samePath(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	return resolved(a) == resolved(b)
}

// resolved returns path made absolute, its folder's symlinks resolved (the
// file itself need not exist).
func resolved(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// inputs returns the files the data flags read (datasets.Files).
func (f *dataFlags) inputs() []pathArg {
	flag := "--data-dir"
	if f.dir == "" {
		flag = "the data file"
	}
	var out []pathArg
	for _, p := range datasets.Files(f.name, f.dir) {
		out = append(out, pathArg{flag, p})
	}
	return out
}

// input names the checkpoint file of --checkpoint-dir as an input
// (nothing without the flag): --out must not replace it.
func (c *checkpointFlags) input() []pathArg {
	if c.dir == "" {
		return nil
	}
	return []pathArg{{"the checkpoint of --checkpoint-dir", nn.CheckpointPath(c.dir)}}
}

// saveModel saves the result of a long run to path. If that fails
// although checkPaths passed before the run (the folder was removed, the
// disk filled up), it saves the model in the OS temporary folder instead
// and returns an error that says where, so that the run is not lost.
func saveModel(flag, path string, m *nn.Model) error {
	return saveWith(flag, path, func(p string) error { return nn.Save(p, m) })
}

// saveWith is saveModel with the writing done by save(path), e.g. a model
// saved with its preprocessing record.
func saveWith(flag, path string, save func(path string) error) error {
	err := save(path)
	if err == nil {
		return nil
	}
	f, ferr := os.CreateTemp("", "goqat-*-"+strings.ReplaceAll(filepath.Base(path), "*", "_"))
	if ferr == nil {
		f.Close()
		if ferr = save(f.Name()); ferr != nil {
			os.Remove(f.Name())
		}
	}
	if ferr != nil {
		return fmt.Errorf("%s %s: %v; saving it in the temporary folder failed too: %v", flag, path, oneLine(err), oneLine(ferr))
	}
	return fmt.Errorf("%s %s: %v; the model is saved in %s instead", flag, path, oneLine(err), f.Name())
}
