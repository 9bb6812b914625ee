package convert

import (
	"encoding/json"
	"testing"

	"github.com/goqat/goqat/lite"
	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/quantize"
	"github.com/goqat/goqat/tensor"
)

// resBlock is a user-defined composite layer (nn.Block), a ResNet basic
// block: Conv 3x3 BN ReLU, Conv 3x3 BN, plus the input or its 1x1
// projection with BN, then ReLU.
type resBlock struct {
	nn.Block
	Filters, Stride int

	conv1, conv2, proj *nn.Conv2D
	bn1, bn2, projBN   *nn.BatchNormalization
}

type resBlockConfig struct {
	Filters int `json:"filters"`
	Stride  int `json:"stride"`
}

func newResBlock(filters, stride int) *resBlock {
	b := &resBlock{Filters: filters, Stride: stride}
	b.conv1 = nn.NewConv2D(filters, 3, 3)
	b.conv1.Strides, b.conv1.Padding, b.conv1.UseBias = [2]int{stride, stride}, "same", false
	b.conv2 = nn.NewConv2D(filters, 3, 3)
	b.conv2.Padding, b.conv2.UseBias = "same", false
	b.proj = nn.NewConv2D(filters, 1, 1)
	b.proj.Strides, b.proj.UseBias = [2]int{stride, stride}, false
	b.bn1, b.bn2, b.projBN = nn.NewBatchNormalization(), nn.NewBatchNormalization(), nn.NewBatchNormalization()
	return b
}

func init() {
	nn.Register("TestResBlock", func(name string, raw json.RawMessage) (nn.Layer, error) {
		var c resBlockConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		b := newResBlock(c.Filters, c.Stride)
		b.SetName(name)
		return b, nil
	})
}

func (b *resBlock) Type() string { return "TestResBlock" }
func (b *resBlock) Config() any  { return resBlockConfig{Filters: b.Filters, Stride: b.Stride} }

// Define is the block's forward pass.
func (b *resBlock) Define(in ...*nn.Node) *nn.Node {
	x := in[0]
	y := nn.Call(nn.NewReLU(), nn.Call(b.bn1, nn.Call(b.conv1, x)))
	y = nn.Call(b.bn2, nn.Call(b.conv2, y))
	short := x
	if b.Stride != 1 || x.Shape()[2] != b.Filters {
		short = nn.Call(b.projBN, nn.Call(b.proj, x))
	}
	return nn.Call(nn.NewReLU(), nn.Call(nn.NewAdd(), y, short))
}

// compositeModel: a stem, a residual block used directly, a nested model
// holding a strided block (with its projection), a head.
//
//	in 28x28x1 -> Conv 8 3x3/2 BN ReLU -> resBlock(8, 1)
//	-> backbone model [resBlock(12, 2)] -> GAP -> Dense 10
func compositeModel(t *testing.T) *nn.Model {
	t.Helper()
	bx := nn.Input(14, 14, 8)
	backbone, err := nn.NewModel([]*nn.Node{bx}, []*nn.Node{nn.Call(newResBlock(12, 2), bx)})
	if err != nil {
		t.Fatal(err)
	}
	backbone.SetName("backbone")
	stem := nn.NewConv2D(8, 3, 3)
	stem.Strides, stem.Padding, stem.UseBias = [2]int{2, 2}, "same", false
	m, err := nn.NewSequential(tensor.Shape{28, 28, 1}, stem, nn.NewBatchNormalization(), nn.NewReLU(),
		newResBlock(8, 1), backbone.AsLayer(), nn.NewGlobalAveragePooling2D(), nn.NewDense(10))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAgreementComposite trains compositeModel (float, then QAT 8-bit and
// W4A8) and checks that the composites convert as if written inline: every
// BN folded, the residual Adds fused with their ReLU, the integer model's
// codes the QAT model's, layer by layer.
func TestAgreementComposite(t *testing.T) {
	w4a8 := quantize.NBit{WeightBits: 4, ActivationBits: 8, PerAxis: true}
	checkExactAfterTraining(t, compositeModel, []quantize.NBit{quantize.Default8Bit, w4a8}, func(t *testing.T, qat *nn.Model, im *lite.Model, _ []LayerReport) {
		ops := map[string]int{}
		for _, op := range im.Ops {
			ops[string(op.Type)+"/"+op.Activation]++
		}
		if ops["Add/relu"] != 2 {
			t.Errorf("%d Add+ReLU ops, want 2 (ops %v)", ops["Add/relu"], ops)
		}
		convs := 0
		for k, n := range ops {
			if len(k) > 6 && k[:6] == "Conv2D" {
				convs += n
			}
		}
		if convs != 6 {
			t.Errorf("%d Conv2D ops, want 6 (stem, 2 + 3 in the blocks; ops %v)", convs, ops)
		}
		if qat.Layer("backbone/test_res_block/conv2d_2") == nil {
			t.Error("no flattened projection layer in the QAT model")
		}
	})
}
