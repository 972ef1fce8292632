namespace Dsl

open Dsl.Engine

/// Padding of convolutions and pools.
type Padding =
    /// No padding (Keras "valid").
    | Valid
    /// Output size ⌈input/stride⌉, padding split evenly with any extra at the end (Keras/TF "same").
    | Same
    /// The same padding on every side.
    | Pad of int

/// Options of `conv2dWith` / `conv1dWith`. Defaults match PyTorch's nn.Conv2d (stride 1, no padding,
/// bias on, Kaiming-uniform(a=√5) weights, U(±1/√fan_in) biases).
type ConvOptions = {
    Stride: int
    Padding: Padding
    Dilation: int
    Groups: int
    Bias: bool
    WeightInit: Initializer
    BiasInit: Initializer
    /// Applied inside the same layer (one summary row, as Keras's `activation=`).
    Activation: Activation option
} with

    /// PyTorch's defaults.
    static member Default = {
        Stride = 1
        Padding = Valid
        Dilation = 1
        Groups = 1
        Bias = true
        WeightInit = Initializer.torchWeight
        BiasInit = Initializer.torchBias
        Activation = None
    }

/// Size arithmetic shared by convolutions and pools.
module internal Window =
    /// (before, after) padding of one spatial dim.
    let pads (padding: Padding) (size: int64) (kernel: int) (stride: int) (dilation: int) : int64 * int64 =
        match padding with
        | Valid -> 0L, 0L
        | Pad p -> int64 p, int64 p
        | Same ->
            let out = (size + int64 stride - 1L) / int64 stride
            let total = max 0L ((out - 1L) * int64 stride + int64 (dilation * (kernel - 1) + 1) - size)
            total / 2L, total - total / 2L

    /// Output size of one spatial dim.
    let outSize (padding: Padding) (size: int64) (kernel: int) (stride: int) (dilation: int) (ceilMode: bool) : int64 =
        let b, a = pads padding size kernel stride dilation
        let span = size + b + a - int64 (dilation * (kernel - 1) + 1)
        if span < 0L then
            0L
        elif ceilMode then
            // libtorch's rule: a last window that would start in the right padding or past the input is dropped.
            let out = (span + int64 stride - 1L) / int64 stride + 1L
            if (out - 1L) * int64 stride >= size + b then out - 1L else out
        else
            span / int64 stride + 1L

/// Convolution layers (channels first: per-sample input [C, H, W] or [C, L]).
[<AutoOpen>]
module ConvLayers =
    let private checkSpatial (ctx: InitContext) kind (sizes: int64 list) (outs: int64 list) =
        if outs |> List.exists (fun o -> o <= 0L) then
            raise (
                Layer.shapeError
                    ctx
                    kind
                    (sprintf "spatial size large enough for the kernel (output would be %A)" outs)
                    "use padding Same, a smaller kernel, or fewer downsampling layers before this one"
            )

    let private convLayer (kind: string) (rank: int) (o: ConvOptions) (filters: int) (kernel: int * int) : Layer =
        let kh, kw = kernel
        if filters <= 0 || kh <= 0 || kw <= 0 || o.Stride <= 0 || o.Dilation <= 0 || o.Groups <= 0 then
            invalidArg "filters" (sprintf "%s: filters, kernel, stride, dilation and groups must be positive" (Layer.autoName kind))
        let expected = if rank = 2 then "(None, channels, height, width)" else "(None, channels, length)"
        let convolve (a: ApplyContext) (v: Value) : Tensor =
            let x = Value.tensor v
            let w, b = Weighted.weight a.Params, Weighted.bias a.Params
            let shape = x.Shape
            if rank = 2 then
                let ph = Window.pads o.Padding shape.[2] kh o.Stride o.Dilation
                let pw = Window.pads o.Padding shape.[3] kw o.Stride o.Dilation
                if fst ph = snd ph && fst pw = snd pw then
                    Functional.Conv2d(x, w, b, struct (int64 o.Stride, int64 o.Stride), struct (fst ph, fst pw), struct (int64 o.Dilation, int64 o.Dilation), int64 o.Groups)
                else
                    use padded = Functional.Pad(x, [| fst pw; snd pw; fst ph; snd ph |])
                    Functional.Conv2d(padded, w, b, struct (int64 o.Stride, int64 o.Stride), struct (0L, 0L), struct (int64 o.Dilation, int64 o.Dilation), int64 o.Groups)
            else
                let pl, pr = Window.pads o.Padding shape.[2] kh o.Stride o.Dilation
                if pl = pr then
                    Functional.Conv1d(x, w, b, int64 o.Stride, pl, int64 o.Dilation, int64 o.Groups)
                else
                    use padded = Functional.Pad(x, [| pl; pr |])
                    Functional.Conv1d(padded, w, b, int64 o.Stride, 0L, int64 o.Dilation, int64 o.Groups)
        {
            Layer.identity kind with
                Init =
                    fun ctx ->
                        let d = Layer.dims ctx kind
                        if List.length d <> rank + 1 then
                            let hint =
                                if rank = 2 && List.length d = 2 then "add reshape [1; h; w] (a channel dimension) before conv2d" else "convolutions take channels-first inputs"
                            raise (Layer.shapeError ctx kind expected hint)
                        let c = List.head d
                        if c % int64 o.Groups <> 0L || filters % o.Groups <> 0 then
                            raise (Layer.shapeError ctx kind (sprintf "channels divisible by groups=%d (and filters=%d too)" o.Groups filters) "change groups or the channel count")
                        let spatial = List.tail d
                        let ks = if rank = 2 then [ kh; kw ] else [ kh ]
                        let outs = List.map2 (fun s k -> Window.outSize o.Padding s k o.Stride o.Dilation false) spatial ks
                        checkSpatial ctx kind spatial outs
                        let wShape = Array.ofList (int64 filters :: c / int64 o.Groups :: List.map int64 ks)
                        {
                            Output = Shape.Dims(int64 filters :: outs)
                            Params = Weighted.create ctx o.WeightInit o.BiasInit o.Bias wShape [| int64 filters |]
                            State = Tree.empty
                            Children = []
                            Frozen = []
                        }
                Apply = fun a v -> Value.T(Weighted.activate o.Activation (convolve a v)), a.State
        }
        |> fun l ->
            match o.Activation with
            | Some act when Activation.isRelu act -> l |> Layer.withReluRole (EndsInRelu(fun a v -> Value.T(convolve a v), a.State))
            | _ -> l

    /// 2-D convolution with options and a (height, width) kernel.
    let conv2dWith (o: ConvOptions) (filters: int) (kernel: int * int) : Layer = convLayer "Conv2D" 2 o filters kernel
    /// 2-D convolution with a square kernel and PyTorch's defaults (stride 1, valid padding): `conv2d 32 3`.
    let conv2d (filters: int) (kernel: int) : Layer = conv2dWith ConvOptions.Default filters (kernel, kernel)
    /// 1-D convolution with options.
    let conv1dWith (o: ConvOptions) (filters: int) (kernel: int) : Layer = convLayer "Conv1D" 1 o filters (kernel, 1)
    /// 1-D convolution with PyTorch's defaults: `conv1d 16 5`.
    let conv1d (filters: int) (kernel: int) : Layer = conv1dWith ConvOptions.Default filters kernel

    /// Depthwise 2-D convolution: each input channel convolved with its own `multiplier` filters (groups = channels).
    let depthwiseConv2dWith (o: ConvOptions) (multiplier: int) (kernel: int) : Layer =
        let inner (c: int64) = convLayer "DepthwiseConv2D" 2 { o with Groups = int c } (int c * multiplier) (kernel, kernel)
        {
            Layer.identity "DepthwiseConv2D" with
                Init =
                    fun ctx ->
                        match Layer.dims ctx "DepthwiseConv2D" with
                        | c :: _ :: _ :: [] -> (inner c).Init ctx
                        | _ -> raise (Layer.shapeError ctx "DepthwiseConv2D" "(None, channels, height, width)" "add reshape [1; h; w] for grayscale images")
                Apply = fun a v -> (inner ((Value.tensor v).Size 1)).Apply a v
        }

    /// Depthwise 2-D convolution with one filter per channel and PyTorch's defaults.
    let depthwiseConv2d (kernel: int) : Layer = depthwiseConv2dWith ConvOptions.Default 1 kernel

    /// Separable 2-D convolution (Keras SeparableConv2D): a depthwise convolution without bias, then a 1×1
    /// pointwise convolution to `filters` channels with bias. Options apply to the depthwise part's
    /// stride, padding and dilation, and to the pointwise part's bias and activation.
    let separableConv2dWith (o: ConvOptions) (filters: int) (kernel: int) : Layer =
        let pointwise = { o with Stride = 1; Padding = Valid; Dilation = 1; Groups = 1 }
        let depthwise c = convLayer "DepthwiseConv2D" 2 { o with Groups = int c; Bias = false; Activation = None } (int c) (kernel, kernel)
        let point = convLayer "Conv2D" 2 pointwise filters (1, 1)
        {
            Layer.identity "SeparableConv2D" with
                Init =
                    fun ctx ->
                        match Layer.dims ctx "SeparableConv2D" with
                        | c :: _ :: _ :: [] ->
                            let k = Rng.split ctx.Rng
                            let d = (depthwise c).Init { ctx with Rng = fst k }
                            let p = point.Init { ctx with Rng = snd k; Input = d.Output }
                            { Output = p.Output; Params = Tree.node [ "depthwise", d.Params; "pointwise", p.Params ]; State = Tree.empty; Children = []; Frozen = [] }
                        | _ -> raise (Layer.shapeError ctx "SeparableConv2D" "(None, channels, height, width)" "add reshape [1; h; w] for grayscale images")
                Apply =
                    fun a v ->
                        let c = (Value.tensor v).Size 1
                        let h, _ = (depthwise c).Apply { a with Params = Tree.child "depthwise" a.Params } v
                        point.Apply { a with Params = Tree.child "pointwise" a.Params } h
        }

    /// Separable 2-D convolution with PyTorch's defaults.
    let separableConv2d (filters: int) (kernel: int) : Layer = separableConv2dWith ConvOptions.Default filters kernel
