package tflite

import flatbuffers "github.com/google/flatbuffers/go"

// The schema subset, from TFLite's schema version 3 (docs/tflite.md,
// Schema). Field ids count from 0 in declaration order; a union takes two
// ids (its type, then its value). A table's vtable slot for field id i is
// 4 + 2*i (slot).

// schemaVersion is Model.version of the files written and accepted.
const schemaVersion = 3

// fileIdentifier is the 4-byte identifier after the root offset.
const fileIdentifier = "TFL3"

// slot returns the vtable offset of field id i.
func slot(i int) flatbuffers.VOffsetT { return flatbuffers.VOffsetT(4 + 2*i) }

// Field ids of table Model.
const (
	modelVersion       = 0 // uint
	modelOperatorCodes = 1 // [OperatorCode]
	modelSubgraphs     = 2 // [SubGraph]
	modelDescription   = 3 // string
	modelBuffers       = 4 // [Buffer]
	modelFields        = 5
)

// Field ids of table OperatorCode.
const (
	opcodeDeprecatedBuiltin = 0 // byte
	opcodeCustomCode        = 1 // string
	opcodeVersion           = 2 // int, default 1
	opcodeBuiltin           = 3 // BuiltinOperator (int)
	opcodeFields            = 4
)

// Field ids of table SubGraph.
const (
	subgraphTensors   = 0 // [Tensor]
	subgraphInputs    = 1 // [int]
	subgraphOutputs   = 2 // [int]
	subgraphOperators = 3 // [Operator]
	subgraphName      = 4 // string
	subgraphFields    = 5
)

// Field ids of table Tensor.
const (
	tensorShape        = 0 // [int]
	tensorType         = 1 // TensorType (byte)
	tensorBuffer       = 2 // uint
	tensorName         = 3 // string
	tensorQuantization = 4 // QuantizationParameters
	tensorIsVariable   = 5 // bool
	tensorSparsity     = 6 // SparsityParameters
	tensorFields       = 5 // written: up to quantization
)

// Field ids of table QuantizationParameters.
const (
	quantMin         = 0 // [float]
	quantMax         = 1 // [float]
	quantScale       = 2 // [float]
	quantZeroPoint   = 3 // [long]
	quantDetailsType = 4 // union type
	quantDetails     = 5 // union value
	quantDimension   = 6 // int (quantized_dimension)
	quantFields      = 7
)

// Field ids of table Buffer.
const (
	bufferData   = 0 // [ubyte]
	bufferOffset = 1 // ulong (data outside the flatbuffer)
	bufferSize   = 2 // ulong
	bufferFields = 1 // written: data only
)

// Field ids of table Operator.
const (
	operatorOpcodeIndex        = 0 // uint
	operatorInputs             = 1 // [int]
	operatorOutputs            = 2 // [int]
	operatorBuiltinOptionsType = 3 // union type (BuiltinOptions)
	operatorBuiltinOptions     = 4 // union value
	operatorCustomOptions      = 5 // [ubyte]
	operatorIntermediates      = 8 // [int]
	operatorFields             = 5 // written: up to builtin_options (up to intermediates when an op has them)
)

// TensorType values.
const (
	typeFloat32 = 0
	typeInt32   = 2
	typeUint8   = 3
	typeInt64   = 4
	typeInt16   = 7 // cell state, gate intermediates
	typeInt8    = 9
)

// BuiltinOperator values of the ops used.
const (
	opAdd            = 0
	opAveragePool2D  = 1
	opConcatenation  = 2
	opConv2D         = 3
	opDepthwiseConv  = 4
	opDequantize     = 6
	opFullyConnected = 9
	opLogistic       = 14
	opMaxPool2D      = 17
	opRelu           = 19
	opRelu6          = 21
	opMul            = 18
	opReshape        = 22
	opSoftmax        = 25
	opTanh           = 28
	opPad            = 34
	opGather         = 36
	opCast           = 53
	opMean           = 40
	opUniSeqLSTM     = 44 // UNIDIRECTIONAL_SEQUENCE_LSTM
	opStridedSlice   = 45
	opReduceMax      = 82
	opQuantize       = 114
	opHardSwish      = 117
	// deprecatedPlaceholder is deprecated_builtin_code's value for codes
	// above 126 (PLACEHOLDER_FOR_GREATER_OP_CODES).
	deprecatedPlaceholder = 127
)

// BuiltinOptions union types of the ops used.
const (
	optNone           = 0
	optConv2D         = 1
	optDepthwiseConv  = 2
	optPool2D         = 5
	optFullyConnected = 8
	optSoftmax        = 9
	optConcatenation  = 10
	optAdd            = 11
	optReshape        = 17
	optMul            = 21
	optPad            = 22
	optGather         = 23
	optCast           = 37
	optReducer        = 27
	optStridedSlice   = 32
	optUniSeqLSTM     = 71 // UnidirectionalSequenceLSTMOptions
	optDequantize     = 38
	optQuantize       = 89
	optHardSwish      = 91
)

// Padding values.
const (
	padSame  = 0
	padValid = 1
)

// ActivationFunctionType values.
const (
	actNone  = 0
	actRelu  = 1
	actRelu6 = 3
	actTanh  = 4
)

// Field ids of table GatherOptions and CastOptions.
const (
	gatherAxis   = 0 // int
	gatherFields = 1
	castInType   = 0 // TensorType
	castOutType  = 1 // TensorType
	castFields   = 2
)

// Field ids of table UnidirectionalSequenceLSTMOptions.
const (
	lstmAct        = 0 // ActivationFunctionType
	lstmCellClip   = 1 // float
	lstmProjClip   = 2 // float
	lstmTimeMajor  = 3 // bool
	lstmAsymmetric = 4 // bool (asymmetric_quantize_inputs, hybrid only)
	lstmFields     = 4
)

// Field ids of table Conv2DOptions.
const (
	convPadding   = 0 // Padding (byte)
	convStrideW   = 1 // int
	convStrideH   = 2 // int
	convAct       = 3 // ActivationFunctionType (byte)
	convDilationW = 4 // int, default 1
	convDilationH = 5 // int, default 1
	convFields    = 6
)

// Field ids of table DepthwiseConv2DOptions.
const (
	dwPadding    = 0
	dwStrideW    = 1
	dwStrideH    = 2
	dwMultiplier = 3 // int (depth_multiplier)
	dwAct        = 4
	dwDilationW  = 5 // default 1
	dwDilationH  = 6 // default 1
	dwFields     = 7
)

// Field ids of table Pool2DOptions.
const (
	poolPadding = 0
	poolStrideW = 1
	poolStrideH = 2
	poolFilterW = 3
	poolFilterH = 4
	poolAct     = 5
	poolFields  = 6
)

// Field ids of table FullyConnectedOptions.
const (
	fcAct          = 0 // ActivationFunctionType
	fcWeightsFmt   = 1 // FullyConnectedOptionsWeightsFormat, 0 = DEFAULT
	fcKeepNumDims  = 2 // bool
	fcAsymmetricIn = 3 // bool
	fcFields       = 3
)

// Field ids of the small option tables.
const (
	softmaxBeta    = 0 // float (SoftmaxOptions)
	concatAxis     = 0 // int (ConcatenationOptions)
	concatAct      = 1 // ActivationFunctionType
	addAct         = 0 // ActivationFunctionType (AddOptions)
	mulAct         = 0 // ActivationFunctionType (MulOptions)
	reshapeShape   = 0 // [int] (ReshapeOptions.new_shape)
	reducerKeep    = 0 // bool (ReducerOptions.keep_dims)
	ssBeginMask    = 0 // int (StridedSliceOptions)
	ssEndMask      = 1
	ssEllipsisMask = 2
	ssNewAxisMask  = 3
	ssShrinkMask   = 4
	ssOffset       = 5 // bool
	ssFields       = 5
)
