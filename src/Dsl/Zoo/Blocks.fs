namespace Dsl

open Dsl.Engine

/// Where a zoo model's weights come from.
[<RequireQualifiedAccess>]
type ZooWeights =
    /// Freshly initialised, as the original library initialises the architecture.
    | None
    /// The ImageNet weights torchvision publishes, fetched once into the cache (`Pretrained.FetchTorchvision`),
    /// verified by their hash.
    | ImageNet
    /// A weight file: a PyTorch state dict (.pth), safetensors, or Keras .h5 (`Weights.read`), with the source's
    /// names (torchvision's keys are the zoo's paths).
    | File of string

/// Options every zoo architecture takes: the number of classes, whether to include the classifier
/// ("top"), and the weights.
type ZooOptions = {
    /// Outputs of the classifier.
    Classes: int
    /// False: the model ends with the last feature map (Keras's `include_top=False`).
    IncludeTop: bool
    /// Where the weights come from.
    Weights: ZooWeights
}

/// The blocks the zoo's architectures are made of: torchvision's Conv2dNormActivation, squeeze-excitation,
/// stochastic depth and residual sums with a projected shortcut.
[<AutoOpen>]
module ZooLayers =
    /// torchvision's `_make_divisible`: `v` rounded to the nearest multiple of `divisor` (at least `minValue`),
    /// never more than 10% below `v`.
    let makeDivisible (v: float) (divisor: int) (minValue: int option) : int =
        let minV = defaultArg minValue divisor
        let n = max minV (int (v + float divisor / 2.0) / divisor * divisor)
        if float n < 0.9 * v then n + divisor else n

    /// Kaiming-normal (fan-out, ReLU gain) conv weights and zero biases, as torchvision initialises convolutions.
    let torchvisionConv: ConvOptions = { ConvOptions.Default with WeightInit = Initializer.kaimingNormal 0.0 FanMode.FanOut Nonlinearity.Relu; BiasInit = Initializer.zeros }

    /// torchvision's Conv2dNormActivation: a bias-free `kernel`×`kernel` convolution with padding
    /// (kernel − 1)/2·dilation, batch norm, then `act` if given; children named "0", "1", "2" as torchvision's.
    let convNormAct (bn: BatchNormOptions) (act: Layer option) (filters: int) (kernel: int) (stride: int) (groups: int) (dilation: int) : Layer =
        let conv =
            conv2dWith
                { torchvisionConv with Stride = stride; Padding = Pad((kernel - 1) / 2 * dilation); Dilation = dilation; Groups = groups; Bias = false }
                filters
                (kernel, kernel)
        serial [
            named "0" conv
            named "1" (batchNormWith bn)
            match act with
            | Some a -> named "2" a
            | None -> ()
        ]

    /// Squeeze-and-excitation (torchvision's SqueezeExcitation): x · scale(fc2(act(fc1(mean over H, W of x)))),
    /// fc1 and fc2 being 1×1 convolutions with bias (C → `squeeze` → C).
    let squeezeExcitation (squeeze: int) (act: Activation) (scale: Activation) : Layer =
        if squeeze <= 0 then invalidArg "squeeze" (sprintf "squeezeExcitation: squeeze channels must be positive, got %d" squeeze)
        let fc1 = conv2dWith torchvisionConv squeeze (1, 1)
        let fc2 (c: int64) = conv2dWith torchvisionConv (int c) (1, 1)
        {
            Layer.identity "SqueezeExcitation" with
                Init =
                    fun ctx ->
                        match Layer.dims ctx "SqueezeExcitation" with
                        | [ c; _; _ ] ->
                            let k1, k2 = Rng.split ctx.Rng
                            let b1 = fc1.Init { ctx with Rng = k1; Input = Shape.Dims [ c; 1L; 1L ] }
                            let b2 = (fc2 c).Init { ctx with Rng = k2; Input = b1.Output }
                            { Output = ctx.Input; Params = Tree.node [ "fc1", b1.Params; "fc2", b2.Params ]; State = Tree.empty; Children = []; Frozen = [] }
                        | _ -> raise (Layer.shapeError ctx "SqueezeExcitation" "(None, channels, height, width)" "squeeze-excitation weighs the channels of an image")
                Apply =
                    fun a v ->
                        let x = Value.tensor v
                        use pooled = x.Mean([| 2L; 3L |], true)
                        let at name = { a with Params = Tree.child name a.Params }
                        use h = Value.tensor (fst (fc1.Apply (at "fc1") (Value.T pooled)))
                        use ha = act.F h
                        use s = Value.tensor (fst ((fc2 (x.Size 1)).Apply (at "fc2") (Value.T ha)))
                        use w = scale.F s
                        Value.T(x * w), a.State
        }

    /// Stochastic depth (torchvision.ops.StochasticDepth, mode "row"): in Train mode each sample's input is
    /// zeroed with probability `p` and the rest scaled by 1/(1 − p); the identity in Eval mode or when p = 0.
    let stochasticDepth (p: float) : Layer =
        if not (p >= 0.0 && p <= 1.0) then invalidArg "p" (sprintf "stochasticDepth: p %g must lie in [0, 1]; it is the probability of dropping a sample's branch" p)
        Layer.stateless "StochasticDepth" (fun ctx -> Layer.dims ctx "StochasticDepth") (fun mode rng x ->
            match mode with
            | Train when p > 0.0 ->
                let survival = 1.0 - p
                use g = Rng.generator x.Device rng
                let shape = Array.init x.Dim (fun i -> if i = 0 then x.Size 0 else 1L)
                use u = Torch.Rand(shape, g, x.DType, x.Device)
                use keep = (u.Lt survival).To(x.DType)
                use mask = if survival > 0.0 then keep / survival else keep.Clone()
                x * mask
            | _ -> x)

    /// `main(x) + shortcut(x)`, then `post`: a residual block whose shortcut projects (torchvision's
    /// `downsample`, Keras's residual convolution). The main branch's parameters sit at the block's own level
    /// and the shortcut's under `shortcutName`; without a shortcut, the input is added unchanged.
    let rec residualSum (main: Layer) (shortcut: (string * Layer) option) (post: Layer option) : Layer =
        let scName, sc = defaultArg (Option.map (fun (n, l) -> Some n, Some l) shortcut) (None, None)
        let rowsOf (b: Built) (kind: string) (name: string) = { Name = name; Kind = kind; Output = b.Output; Params = b.Params; State = b.State; Children = b.Children }
        let kids (t: Params) =
            match t with
            | Tree.Node ks -> ks
            | Tree.Leaf _ -> [ "", t ]
        {
            Layer.identity "Residual" with
                Sublayers = [
                    yield "", main
                    match scName, sc with
                    | Some n, Some l -> yield n, l
                    | _ -> ()
                ]
                Rebuild =
                    Some(fun kids ->
                        let main' = kids |> List.find (fst >> (=) "") |> snd
                        let shortcut' = scName |> Option.map (fun n -> n, kids |> List.find (fst >> (=) n) |> snd)
                        residualSum main' shortcut' post)
                Init =
                    fun ctx ->
                        let k1, k2 = Rng.split ctx.Rng
                        let mb = main.Init { ctx with Rng = k1 }
                        let sb = sc |> Option.map (fun l -> l.Init { ctx with Rng = k2; Path = Layer.path ctx.Path (defaultArg scName "") })
                        let scOut = sb |> Option.map _.Output |> Option.defaultValue ctx.Input
                        if mb.Output <> scOut then
                            raise (
                                ShapeError(
                                    ctx.Path,
                                    "Residual",
                                    ctx.Input,
                                    sprintf "a main branch and a shortcut of the same shape, but they output %O and %O" mb.Output scOut,
                                    "give the shortcut the main branch's stride and channel count"
                                )
                            )
                        let n = defaultArg scName ""
                        {
                            Output = mb.Output
                            Params = Tree.node (kids mb.Params @ (sb |> Option.map (fun b -> [ n, b.Params ]) |> Option.defaultValue []))
                            State = Tree.node (kids mb.State @ (sb |> Option.map (fun b -> [ n, b.State ]) |> Option.defaultValue []))
                            Children = mb.Children @ (sb |> Option.map (fun b -> [ rowsOf b (Option.get sc).Kind n ]) |> Option.defaultValue [])
                            Frozen =
                                Layer.frozenOf "" main mb
                                @ (match sb, sc with
                                   | Some b, Some l -> Layer.frozenOf n l b
                                   | _ -> [])
                        }
                Apply =
                    fun a v ->
                        let k1, k2 = Rng.split a.Rng
                        let y, s = main.Apply { a with Rng = k1 } v
                        let n = defaultArg scName ""
                        let r, rs =
                            match sc with
                            | Some l -> l.Apply { a with Params = Tree.child n a.Params; State = Tree.child n a.State; Rng = k2 } v
                            | None -> v, Tree.empty
                        let sum = residualAdd a.Mode v y r
                        let out =
                            match post with
                            | Some p -> fst (applyGivenUp { a with Params = Tree.empty; State = Tree.empty } p sum)
                            | None -> sum
                        out, Tree.node (kids s @ (if sc.IsSome then [ n, rs ] else []))
        }
