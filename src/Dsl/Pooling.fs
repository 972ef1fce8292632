namespace Dsl

open Dsl.Engine

/// Options of `maxPoolWith` / `avgPoolWith`. Defaults: stride = kernel, valid padding, floor rounding.
type PoolOptions = {
    Stride: int option
    Padding: Padding
    CeilMode: bool
} with

    /// Stride equal to the kernel, no padding, output sizes rounded down (Keras and PyTorch defaults).
    static member Default = { Stride = None; Padding = Valid; CeilMode = false }

/// Pooling layers over channels-first images (per-sample [C, H, W]).
[<AutoOpen>]
module PoolingLayers =
    let private image (ctx: InitContext) kind =
        match Layer.dims ctx kind with
        | [ c; h; w ] -> c, h, w
        | d ->
            let hint =
                if List.length d = 2 then "add reshape [1; h; w] (a channel dimension) first"
                elif List.length d = 1 then "pooling needs an image; remove flatten before it"
                else "pooling takes (channels, height, width)"
            raise (Layer.shapeError ctx kind "(None, channels, height, width)" hint)

    let private pool (kind: string) (isMax: bool) (o: PoolOptions) (kernel: int) : Layer =
        if kernel <= 0 then invalidArg "kernel" (sprintf "%s: kernel must be positive" kind)
        let stride = defaultArg o.Stride kernel
        // How an h×w input is pooled, for Init and Apply alike: libtorch pads when the pads are symmetric and at most
        // half the kernel (true); otherwise the input is padded first and libtorch sees none (false).
        let plan h w =
            let pt, pb = Window.pads o.Padding h kernel stride 1
            let pl, pr = Window.pads o.Padding w kernel stride 1
            pt = pb && pl = pr && 2L * pt <= int64 kernel && 2L * pl <= int64 kernel, (pt, pb), (pl, pr)
        let outSize libtorchPads size (b, a) =
            if libtorchPads then Window.outSize (Pad(int b)) size kernel stride 1 o.CeilMode else Window.outSize Valid (size + b + a) kernel stride 1 o.CeilMode
        {
            Layer.identity kind with
                Init =
                    fun ctx ->
                        let c, h, w = image ctx kind
                        let libtorchPads, ph, pw = plan h w
                        let oh, ow = outSize libtorchPads h ph, outSize libtorchPads w pw
                        if oh <= 0L || ow <= 0L then
                            raise (Layer.shapeError ctx kind (sprintf "an image of at least %d×%d" kernel kernel) "remove a downsampling layer or use padding Same")
                        { Output = Shape.Dims [ c; oh; ow ]; Params = Tree.empty; State = Tree.empty; Children = []; Frozen = [] }
                Apply =
                    fun a v ->
                        let x = Value.tensor v
                        let s = x.Shape
                        let libtorchPads, (pt, pb), (pl, pr) = plan s.[2] s.[3]
                        let k, st = struct (int64 kernel, int64 kernel), struct (int64 stride, int64 stride)
                        let y =
                            if libtorchPads then
                                if isMax then
                                    Functional.MaxPool2d(x, k, st, struct (pt, pl), ceilMode = o.CeilMode)
                                else
                                    Functional.AvgPool2d(x, k, st, struct (pt, pl), o.CeilMode, countIncludePad = (o.Padding <> Same))
                            else
                                // Asymmetric (Keras "same") padding: pad explicitly; averages count only real pixels.
                                let pads = [| pl; pr; pt; pb |]
                                if isMax then
                                    use padded = Functional.Pad(x, pads, PadMode.Constant, System.Double.NegativeInfinity)
                                    Functional.MaxPool2d(padded, k, st, ceilMode = o.CeilMode)
                                else
                                    use padded = Functional.Pad(x, pads)
                                    use ones = Torch.Ones([| 1L; 1L; s.[2]; s.[3] |], x.DType, x.Device)
                                    use onesPadded = Functional.Pad(ones, pads)
                                    use sums = Functional.AvgPool2d(padded, k, st, ceilMode = o.CeilMode)
                                    use counts = Functional.AvgPool2d(onesPadded, k, st, ceilMode = o.CeilMode)
                                    sums / counts
                        Value.T y, a.State
        }
        |> fun l -> if isMax then Layer.withReluRole MaxOverWindows l else l

    /// Max pooling with options.
    let maxPoolWith (o: PoolOptions) (kernel: int) : Layer = pool "MaxPooling2D" true o kernel
    /// k×k max pooling with stride k: `maxPool 2`.
    let maxPool (kernel: int) : Layer = maxPoolWith PoolOptions.Default kernel
    /// Average pooling with options.
    let avgPoolWith (o: PoolOptions) (kernel: int) : Layer = pool "AveragePooling2D" false o kernel
    /// k×k average pooling with stride k.
    let avgPool (kernel: int) : Layer = avgPoolWith PoolOptions.Default kernel

    /// Mean over the spatial dimensions: (C, H, W) → (C).
    let globalAvgPool: Layer = Layer.stateless "GlobalAveragePooling2D" (fun ctx -> let c, _, _ = image ctx "GlobalAveragePooling2D" in [ c ]) (fun _ _ x -> x.Mean([| 2L; 3L |]))

    /// Average pooling to a fixed (height, width): (C, H, W) → (C, h, w).
    let adaptiveAvgPool (height: int, width: int) : Layer =
        Layer.stateless "AdaptiveAvgPool2D" (fun ctx -> let c, _, _ = image ctx "AdaptiveAvgPool2D" in [ c; int64 height; int64 width ]) (fun _ _ x ->
            Functional.AdaptiveAvgPool2d(x, struct (int64 height, int64 width)))
