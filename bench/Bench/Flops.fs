/// FLOPs per iteration of every benchmark, counted from the layer shapes (bench/README.md, "FLOPs and the
/// machine's limit"): one multiply-accumulate (MAC) of a convolution or dense layer is 2 FLOPs; a training
/// step is ≈ 3 × its forward (forward, gradient of the input, gradient of the weights); element-wise ops,
/// pooling, batch norm, the loss and the optimizer are not counted. The same count serves every side.
module Bench.Flops

/// Output size of a convolution or pooling window along one axis.
let outSize (size: int64) (kernel: int64) (stride: int64) (pad: int64) = (size + 2L * pad - kernel) / stride + 1L

/// MACs of one sample through a k×k convolution: out channels × output positions × (in channels / groups) × k².
let conv (cin: int64) (cout: int64) (k: int64) (groups: int64) (hOut: int64) (wOut: int64) = cout * hOut * wOut * (cin / groups) * k * k

/// MACs of one sample through a dense layer.
let dense (inputs: int64) (outputs: int64) = inputs * outputs

/// An MLP 10 → width → width → 1 (B2's shape at another width; scaling series S2), per sample.
let mlpWidthMacs (width: int64) = dense 10L width + dense width width + dense width 1L

/// B2's MLP 10 → 256 → 256 → 1, per sample.
let mlpMacs = mlpWidthMacs 256L

/// B3's CNN on 1×28×28, per sample: conv 1→32 and 32→64 (3×3, pad 1, at 28² and 14²), dense 3136→128→10.
let cnnMacs = conv 1L 32L 3L 1L 28L 28L + conv 32L 64L 3L 1L 14L 14L + dense 3136L 128L + dense 128L 10L

/// B4's MLP 784 → 256 → 10, per sample.
let fmnistMacs = dense 784L 256L + dense 256L 10L

/// torchvision's ResNet18 on 3×224×224, per sample (1.814 G; torchvision's model card: 1.81 GFLOPS, meaning MACs).
let resnet18Macs =
    let h0 = outSize 224L 7L 2L 3L
    let stem = conv 3L 64L 7L 1L h0 h0
    let h1 = outSize h0 3L 2L 1L // max-pool 3, stride 2, pad 1
    let blocks, _, _ =
        [ for stage in 0..3 -> 64L <<< stage, (if stage = 0 then 1L else 2L) ]
        |> List.fold
            (fun (macs, h, cin) (cout, stride) ->
                let ho = outSize h 3L stride 1L
                let first = conv cin cout 3L 1L ho ho + conv cout cout 3L 1L ho ho
                let down = if stride <> 1L || cin <> cout then conv cin cout 1L 1L ho ho else 0L
                let second = 2L * conv cout cout 3L 1L ho ho
                macs + first + down + second, ho, cout)
            (0L, h1, 64L)
    stem + blocks + dense 512L 1000L

/// torchvision's MobileNetV2 (width 1.0) on 3×224×224, per sample (0.30 G; torchvision's model card: 0.30 GFLOPS).
let mobilenetV2Macs =
    let settings = [ 1L, 16L, 1, 1L; 6L, 24L, 2, 2L; 6L, 32L, 3, 2L; 6L, 64L, 4, 2L; 6L, 96L, 3, 1L; 6L, 160L, 3, 2L; 6L, 320L, 1, 1L ]
    let h0 = outSize 224L 3L 2L 1L
    let blocks, h, cin =
        [
            for t, c, n, s in settings do
                for i in 0 .. n - 1 -> t, c, (if i = 0 then s else 1L)
        ]
        |> List.fold
            (fun (macs, h, cin) (t, cout, stride) ->
                let hidden = cin * t
                let expand = if t <> 1L then conv cin hidden 1L 1L h h else 0L
                let ho = outSize h 3L stride 1L
                macs + expand + conv hidden hidden 3L hidden ho ho + conv hidden cout 1L 1L ho ho, ho, cout)
            (0L, h0, 32L)
    conv 3L 32L 3L 1L h0 h0 + blocks + conv cin 1280L 1L 1L h h + dense 1280L 1000L

/// A training step's FLOPs for `batch` samples of `macs` each: 3 × forward, 2 FLOPs per MAC.
let train (batch: int64) (macs: int64) = 3.0 * 2.0 * float batch * float macs

/// An inference pass's FLOPs (forward only).
let infer (batch: int64) (macs: int64) = 2.0 * float batch * float macs

/// FLOPs per iteration of each benchmark (B1: the one addition; B4: one epoch of 60,000 samples).
let perIteration (bench: string) : float option =
    match bench with
    | "B1" -> Some 1.0
    | "B2" -> Some(train 256L mlpMacs)
    | "B3" -> Some(train 128L cnnMacs)
    | "B4" -> Some(train 60_000L fmnistMacs)
    | "B8R" -> Some(train 8L resnet18Macs)
    | "B8M" -> Some(train 16L mobilenetV2Macs)
    | "B9" -> Some(infer 64L resnet18Macs)
    | _ -> None

/// Seconds per unit of a benchmark's figures.
let unitSeconds (unit: string) =
    match unit with
    | "us" -> 1e-6
    | "ms" -> 1e-3
    | "s" -> 1.0
    | other -> failwithf "Flops.unitSeconds: unknown unit %s (expected us, ms or s)" other
