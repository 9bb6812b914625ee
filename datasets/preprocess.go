package datasets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/goqat/goqat/safetensors"
	"github.com/goqat/goqat/tensor"
)

// PreprocessingKey is the safetensors metadata key under which a model file
// records, as JSON, how its training data was prepared (Preprocessing), so
// that evaluation and prediction prepare their inputs the same way.
const PreprocessingKey = "goqat.data"

// preprocessingVersion is the version of the Preprocessing JSON.
const preprocessingVersion = 1

// Preprocessing is how a model's inputs were made from the raw data: an
// image is decoded, converted to ChannelOrder, brought to Input's height
// and width as Fit says, scaled to [0,1] (pixel/255) and normalised per
// channel as (x - Mean)/Std; a table row's features are taken as they are,
// then normalised the same way. Output k of the model is ClassNames[k].
type Preprocessing struct {
	// Version is preprocessingVersion.
	Version int `json:"version"`
	// Kind is "image" or "table".
	Kind string `json:"kind"`
	// Input is the per-example shape: (H,W,C) or (F).
	Input []int `json:"input"`
	// ChannelOrder is "L" (grayscale, one channel) or "RGB" for images.
	ChannelOrder string `json:"channel_order,omitempty"`
	// Fit is how images of another size reached (H,W): crop, pad or
	// stretch ("" if they were not resized).
	Fit Fit `json:"fit,omitempty"`
	// Mean and Std normalise each channel (image) or feature (table)
	// after scaling; goqat's sources apply none, recorded as 0 and 1.
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
	// ClassNames names the model's outputs.
	ClassNames []string `json:"class_names"`
}

// PreprocessingOf describes how d (a Dataset, or a Source read from disk)
// was prepared: its example shape, its class names, and fit ("" if the
// images were not resized).
func PreprocessingOf(d Source, fit Fit) *Preprocessing {
	in := d.ExampleShape()
	p := &Preprocessing{Version: preprocessingVersion, Kind: "table", Input: in, ClassNames: append([]string(nil), d.LabelNames()...)}
	n := in[len(in)-1]
	if len(in) == 3 {
		p.Kind, p.Fit, p.ChannelOrder = "image", fit, "RGB"
		if n == 1 {
			p.ChannelOrder = "L"
		}
	}
	p.Mean, p.Std = make([]float32, n), make([]float32, n)
	for i := range p.Std {
		p.Std[i] = 1
	}
	return p
}

// Validate checks the fields against each other.
func (p *Preprocessing) Validate() error {
	if p.Version != preprocessingVersion {
		return fmt.Errorf("preprocessing version %d: want %d", p.Version, preprocessingVersion)
	}
	sh := tensor.Shape(p.Input)
	switch {
	case p.Kind == "image" && len(sh) == 3:
		if p.ChannelOrder != map[bool]string{true: "L", false: "RGB"}[sh[2] == 1] || (sh[2] != 1 && sh[2] != 3) {
			return fmt.Errorf("preprocessing: channel order %q for %d channels", p.ChannelOrder, sh[2])
		}
		if p.Fit != "" {
			if _, err := ParseFit(string(p.Fit)); err != nil {
				return fmt.Errorf("preprocessing: %w", err)
			}
		}
	case p.Kind == "table" && len(sh) == 1:
	default:
		return fmt.Errorf("preprocessing: kind %q with input %v", p.Kind, p.Input)
	}
	for _, v := range sh {
		if v < 1 || v > MaxValues {
			return fmt.Errorf("preprocessing: input %v", p.Input)
		}
	}
	n := sh[len(sh)-1]
	if len(p.Mean) != n || len(p.Std) != n {
		return fmt.Errorf("preprocessing: %d means and %d standard deviations for %d channels or features", len(p.Mean), len(p.Std), n)
	}
	for i, s := range p.Std {
		if !(s > 0) || p.Mean[i] != p.Mean[i] {
			return fmt.Errorf("preprocessing: mean %v, standard deviation %v", p.Mean[i], s)
		}
	}
	if len(p.ClassNames) == 0 {
		return fmt.Errorf("preprocessing: no class names")
	}
	return nil
}

// Identity reports whether the normalisation changes nothing (every mean 0,
// every standard deviation 1).
func (p *Preprocessing) Identity() bool {
	for i := range p.Mean {
		if p.Mean[i] != 0 || p.Std[i] != 1 {
			return false
		}
	}
	return true
}

// Normalize applies (x - Mean)/Std in place to examples laid out with
// channels (or features) last; nothing if it is the identity.
func (p *Preprocessing) Normalize(x []float32) {
	if p.Identity() {
		return
	}
	n := len(p.Mean)
	for i := range x {
		x[i] = (x[i] - p.Mean[i%n]) / p.Std[i%n]
	}
}

// AddPreprocessing returns f with p recorded in its metadata (f is
// changed).
func AddPreprocessing(f *safetensors.File, p *Preprocessing) (*safetensors.File, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	js, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if f.Metadata == nil {
		f.Metadata = map[string]string{}
	}
	f.Metadata[PreprocessingKey] = string(js)
	return f, nil
}

// PreprocessingFrom returns the Preprocessing recorded in f, or nil if f
// has none; a malformed record is an error.
func PreprocessingFrom(f *safetensors.File) (*Preprocessing, error) {
	raw, ok := f.Metadata[PreprocessingKey]
	if !ok {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	var p Preprocessing
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("metadata %q: %w", PreprocessingKey, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("metadata %q: %w", PreprocessingKey, err)
	}
	return &p, nil
}

// ReadPreprocessing reads the Preprocessing recorded in the model file at
// path (nil if it has none).
func ReadPreprocessing(path string) (*Preprocessing, error) {
	f, err := safetensors.ReadFile(path, safetensors.Limits{})
	if err != nil {
		return nil, err
	}
	p, err := PreprocessingFrom(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// CopyPreprocessing records the Preprocessing of the model file from (if
// it has one) in the model file to, rewritten atomically: a QAT or integer
// model made from a float model keeps its data's description.
func CopyPreprocessing(from, to string) error {
	p, err := ReadPreprocessing(from)
	if err != nil || p == nil {
		return err
	}
	f, err := safetensors.ReadFile(to, safetensors.Limits{})
	if err != nil {
		return err
	}
	if f, err = AddPreprocessing(f, p); err != nil {
		return err
	}
	return safetensors.WriteFile(to, f)
}

// MetadataProp is one key and value of MetadataProps.
type MetadataProp struct{ Key, Value string }

// MetadataProps describes p as string pairs for a model format's free-form
// metadata (ONNX metadata_props): PreprocessingKey with the whole record as
// JSON, then readable copies of its parts: goqat.input_size ("HxW" or the
// feature count), goqat.channel_order, goqat.fit, goqat.mean and goqat.std
// (comma-separated, per channel or feature) and goqat.class_names (a JSON
// array, as names may hold commas).
func (p *Preprocessing) MetadataProps() ([]MetadataProp, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	js, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	names, err := json.Marshal(p.ClassNames)
	if err != nil {
		return nil, err
	}
	size := fmt.Sprint(p.Input[0])
	if p.Kind == "image" {
		size = fmt.Sprintf("%dx%d", p.Input[0], p.Input[1])
	}
	floats := func(v []float32) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
		return strings.Join(s, ",")
	}
	props := []MetadataProp{{PreprocessingKey, string(js)}, {"goqat.input_size", size}}
	if p.Kind == "image" {
		props = append(props, MetadataProp{"goqat.channel_order", p.ChannelOrder})
		if p.Fit != "" {
			props = append(props, MetadataProp{"goqat.fit", string(p.Fit)})
		}
	}
	return append(props, MetadataProp{"goqat.mean", floats(p.Mean)}, MetadataProp{"goqat.std", floats(p.Std)},
		MetadataProp{"goqat.class_names", string(names)}), nil
}
