package nn

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// CSVLogger writes one CSV row per epoch with every metric of the epoch's
// logs, as Keras's CSVLogger (docs/DESIGN.md, Training callbacks): a
// header "epoch,<metric>,..." (the metrics sorted by name, as logged at the
// first epoch), then per epoch its index from 0 and the values in Go's
// shortest exact form ("NA" for a metric an epoch did not log). After
// every epoch the whole file is rewritten atomically (a temporary file
// renamed over it), so a reader or a crash never sees a partial row. With
// Append, the rows of an existing file are kept and the new ones added
// after them; its header must match.
type CSVLogger struct {
	// Path is the CSV file.
	Path string
	// Append keeps an existing file's rows (default: replace the file).
	Append bool
	// Separator separates the fields (default ',').
	Separator rune

	keys []string
	buf  []byte // the file's content so far
	old  []byte // the appended file's content, header included
}

// TrainBegin checks the file and, with Append, reads the rows to keep.
func (c *CSVLogger) TrainBegin(*Training) error {
	if c.Path == "" {
		return errors.New("nn: CSVLogger: Path is empty")
	}
	if c.Separator == 0 {
		c.Separator = ','
	}
	if c.Separator == '\n' || c.Separator == '\r' || c.Separator == '"' {
		return fmt.Errorf("nn: CSVLogger: separator %q is not usable", c.Separator)
	}
	c.keys, c.buf, c.old = nil, nil, nil
	st, err := os.Stat(c.Path)
	switch {
	case err == nil && !st.Mode().IsRegular():
		return fmt.Errorf("nn: CSVLogger: %s is not a regular file", c.Path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("nn: CSVLogger: %w", err)
	}
	if c.Append && err == nil {
		if c.old, err = os.ReadFile(c.Path); err != nil {
			return fmt.Errorf("nn: CSVLogger: %w", err)
		}
		if len(c.old) > 0 && c.old[len(c.old)-1] != '\n' {
			c.old = append(c.old, '\n')
		}
	}
	return nil
}

// EpochEnd adds the epoch's row and rewrites the file.
func (c *CSVLogger) EpochEnd(_ *Training, epoch int, logs map[string]float64) error {
	sep := string(c.Separator)
	if c.keys == nil {
		c.keys = make([]string, 0, len(logs))
		for k := range logs {
			c.keys = append(c.keys, k)
		}
		slices.Sort(c.keys)
		header := "epoch" + sep + strings.Join(c.keys, sep) + "\n"
		if len(c.old) > 0 {
			first, _, _ := bytes.Cut(c.old, []byte("\n"))
			if got := strings.TrimSuffix(string(first), "\r") + "\n"; got != header {
				return fmt.Errorf("nn: CSVLogger: cannot append to %s: its header %q differs from %q", c.Path, strings.TrimSpace(got), strings.TrimSpace(header))
			}
			c.buf = append(c.buf[:0], c.old...)
		} else {
			c.buf = append(c.buf[:0], header...)
		}
	}
	c.buf = strconv.AppendInt(c.buf, int64(epoch), 10)
	for _, k := range c.keys {
		c.buf = append(c.buf, sep...)
		if v, ok := logs[k]; ok {
			c.buf = strconv.AppendFloat(c.buf, v, 'g', -1, 64)
		} else {
			c.buf = append(c.buf, "NA"...)
		}
	}
	c.buf = append(c.buf, '\n')
	if err := writeFileAtomic(c.Path, c.buf); err != nil {
		return fmt.Errorf("nn: CSVLogger: %w", err)
	}
	return nil
}

// TrainEnd does nothing: every row is already on disk.
func (c *CSVLogger) TrainEnd(*Training) error { return nil }

// writeFileAtomic writes data to path through a temporary file in the same
// folder (write, fsync, close, rename, fsync the folder), like writeAtomic.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
