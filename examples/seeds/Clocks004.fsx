// Seed 004's clocks, what 004-clocks.fsx shares (#load "Clocks004.fsx"): the data (generated 150×150 clocks, the seed's contrast, a resize),
// the seed's final model (its Fig. 5, 624,392 parameters), the output forms of its variants (two class heads, one
// 720-class output, regression heads, circular heads) with their targets and readers; a geometric model that
// regresses the hands' and the 12's directions on screen (its 12 was too imprecise: median 38°), and the keypoint model
// the goal uses: heatmaps of where the centre, the 12 and the hand tips lie, whose bearings give the time.
#load "../../Dsl.fsx"

open System
open Dsl
open Dsl.Engine
open Dsl.Data

/// Clocks as training data: float32 images [N, 1, S, S] in [0, 1] (the seed's contrast applied at 150×150, then
/// resized to S×S by area averaging) and the specs they were rendered from.
type ClockData = { Images: Tensor; Specs: ClockSpec[] }

/// Renders `count` 150×150 clocks of seed 004's kind (any orientation; `Clocks`' default options) in chunks of 1,000
/// (chunk c from a seed drawn by SplitMix(seed · 1000 + c)), applies the seed's contrast preprocessing (DarkContrast: pixels below 0.6
/// darkened, the more the darker) and resizes them to `size`.
let rec render (count: int) (seed: int64) (size: int) : ClockData = renderWith false count seed size

/// `render`, or with `direct` the clocks drawn at `size` itself (the same draws, widths scaled; about 6× faster at 96
/// than drawing at 150 and resizing) and then contrasted.
and renderWith (direct: bool) (count: int) (seed: int64) (size: int) : ClockData =
    let contrast = DarkContrast(threshold = 0.6, strength = 1.0)
    let resize = Resize(int64 size, int64 size, InterpolationMode.Area)
    let options = if direct then ClockOptions(ImageSize = size) else ClockOptions()
    let chunks = [
        for c, start in List.indexed [ 0..1000 .. count - 1 ] do
            // Chunk seeds drawn from a generator: with the engine's first SplitMix.Mix (which added the seed and the
            // index before mixing) nearby seeds (seed · 1000 + c) gave the same clocks shifted, 1,070 distinct in 48,000.
            use set = Clocks.Generate(min 1000 (count - start), SplitMix(seed * 1000L + int64 c).NextLong(), options)
            let images = Scope.keep (fun () -> let x = contrast.Apply set.Images in if x.Size 2 = int64 size then x else resize.Apply x)
            yield images, Array.ofSeq set.Specs
    ]
    let images = Scope.keep (fun () -> Torch.Cat([| for x, _ in chunks -> x |], 0L))
    for x, _ in chunks do
        x.Dispose()
    { Images = images; Specs = Array.concat (List.map snd chunks) }

/// Rows `start .. start + count − 1` of a data set (the images share storage with the whole).
let slice (d: ClockData) (start: int) (count: int) = { Images = d.Images.Narrow(0L, int64 start, int64 count); Specs = d.Specs.[start .. start + count - 1] }

let private longs (xs: int64[]) = Torch.From(xs, [| int64 xs.Length |])
let private floats (xs: float32[]) = Torch.From(xs, [| int64 xs.Length |])

/// The true hours and minutes, int64 [N] each.
let truth (specs: ClockSpec[]) = longs [| for s in specs -> int64 s.Hour |], longs [| for s in specs -> int64 s.Minute |]

// ---------------------------------------------------------------- the seed's final model (Fig. 5)

let private keras = { ConvOptions.Default with WeightInit = Initializer.glorotUniform; BiasInit = Initializer.zeros; Activation = Some Activation.relu }
let private conv (filters: int) (kernel: int) (stride: int) = conv2dWith { keras with Stride = stride } filters (kernel, kernel)
let private fc (activation: Activation option) (units: int) =
    denseWith { DenseOptions.Default with WeightInit = Initializer.glorotUniform; BiasInit = Initializer.zeros; Activation = activation } units

/// The seed's trunk (Keras's glorot-uniform kernels and zero biases, ReLU): conv 64 4×4 stride 2, then conv 64 4×4,
/// 128 3×3 and 256 3×3, each followed by a 2×2 max pool and dropout; flatten, dropout, dense 128, dropout. The seed
/// gives no dropout rates ("of differing magnitude"); these are ours.
let seedTrunk =
    serial [
        conv 64 4 2
        maxPool 2
        dropout 0.1
        conv 64 4 1
        maxPool 2
        dropout 0.1
        conv 128 3 1
        maxPool 2
        dropout 0.2
        conv 256 3 1
        maxPool 2
        dropout 0.2
        flatten
        dropout 0.3
        fc (Some Activation.relu) 128
        dropout 0.3
    ]

/// The seed's final model on its trunk: an hour branch (dense 64, dropout, `hourOut` outputs) and a minute branch
/// (dense 256, dropout, `minuteOut` outputs), named as the seed's Keras layers. With 12 and 60 class outputs at
/// 150×150: 624,392 parameters.
let seedModel (hourOut: int) (minuteOut: int) =
    seedTrunk
    >-> fanOut [
        "hour", serial [ named "dense_1" (fc (Some Activation.relu) 64); named "dropout_6" (dropout 0.2); named "hour" (fc None hourOut) ]
        "minute", serial [ named "dense_2" (fc (Some Activation.relu) 256); named "dropout_7" (dropout 0.2); named "minute" (fc None minuteOut) ]
    ]

/// The seed's 720-class variant: its trunk and one output of 720 classes (every minute of the dial).
let seedModel720 = seedTrunk >-> fc None 720

// ---------------------------------------------------------------- output forms: targets, losses, readers

/// An output form of a time-telling model: its targets from the specs, its loss, and how to read (hour, minute) off
/// its predictions and off its targets.
type Form = { Name: string; Targets: ClockSpec[] -> Value; Loss: Loss; Read: Value -> Tensor * Tensor; ReadTarget: Value -> Tensor * Tensor }

let private head (name: string) (v: Value) = Value.tensor (Value.head name v)

/// Two class heads, hour (12) and minute (60), cross-entropy weighted 6 and 4 (the seed's final choice).
let classes = {
    Name = "two class heads"
    Targets = fun s -> let h, m = truth s in Value.Heads [ "hour", Value.T h; "minute", Value.T m ]
    Loss = Loss.perHead [ "hour", Loss.crossEntropy, 6.0; "minute", Loss.crossEntropy, 4.0 ]
    Read = fun v -> (head "hour" v).Argmax(-1L), (head "minute" v).Argmax(-1L)
    ReadTarget = fun v -> head "hour" v, head "minute" v
}

/// One output of 720 classes, the minutes since 12:00.
let classes720 = {
    Name = "one 720-class output"
    Targets = fun s -> Value.T(longs [| for x in s -> int64 (Clocks.ToMinutes(x.Hour, x.Minute)) |])
    Loss = Loss.crossEntropy
    Read = fun v -> let t = (Value.tensor v).Argmax(-1L) in (t - t.Remainder(60L)).To(DType.Float32).Div_(60.0).To(DType.Int64), t.Remainder(60L)
    ReadTarget = fun v -> let t = Value.tensor v in (t - t.Remainder(60L)).To(DType.Float32).Div_(60.0).To(DType.Int64), t.Remainder(60L)
}

/// Regression heads as the seed's: hour/12 and minute/60 in [0, 1), mean squared error weighted 6 and 4.
let regression = {
    Name = "regression heads"
    Targets =
        fun s ->
            Value.Heads [
                "hour", Value.T((floats [| for x in s -> float32 x.Hour / 12.0f |]).Unsqueeze(1L))
                "minute", Value.T((floats [| for x in s -> float32 x.Minute / 60.0f |]).Unsqueeze(1L))
            ]
    Loss = Loss.perHead [ "hour", Loss.mse, 6.0; "minute", Loss.mse, 4.0 ]
    Read =
        fun v ->
            let read (p: Tensor) (n: float) = (p.Squeeze(-1L) * n).Round().Remainder(n).To(DType.Int64)
            read (head "hour" v) 12.0, read (head "minute" v) 60.0
    ReadTarget =
        fun v ->
            let read (p: Tensor) (n: float) = (p.Squeeze(-1L) * n).Round().Remainder(n).To(DType.Int64)
            read (head "hour" v) 12.0, read (head "minute" v) 60.0
}

/// Reads a circular hour hand (its position on 720 minutes) with the minute read off the minute hand: the hour is
/// the one that, with that minute, comes nearest to the hour hand.
let private hourFromHand (hand720: Tensor) (minute: Tensor) = ((hand720 - minute.To(DType.Float32)) / 60.0).Round().Remainder(12.0).To(DType.Int64)

/// Circular heads (`Loss.circular`): the hour hand's position on the dial (period 720 minutes) and the minute hand's
/// (period 60), weighted 6 and 4: the seed's "common-sense loss", differentiable.
let circular = {
    Name = "circular heads (Loss.circular)"
    Targets =
        fun s ->
            Value.Heads [ "hour", Value.T(floats [| for x in s -> float32 (Clocks.ToMinutes(x.Hour, x.Minute)) |]); "minute", Value.T(floats [| for x in s -> float32 x.Minute |]) ]
    Loss = Loss.perHead [ "hour", Loss.circular 720.0, 6.0; "minute", Loss.circular 60.0, 4.0 ]
    Read =
        fun v ->
            let minute = (Loss.circularPosition 60.0 (head "minute" v)).Round().Remainder(60.0).To(DType.Int64)
            hourFromHand (Loss.circularPosition 720.0 (head "hour" v)) minute, minute
    ReadTarget = fun v -> ((head "hour" v) / 60.0).Floor().To(DType.Int64), (head "minute" v).To(DType.Int64)
}

/// The time that best explains directions on screen (degrees, [N] each) of the minute hand, the hour hand and the 12:
/// for each of the 720 times t, the rotation each direction implies (minute − 6t, hour − t/2, twelve) are averaged as
/// unit vectors with the weights (wm, wh, w12); the time whose rotations agree best (the longest mean vector) wins.
/// The hands alone fix t up to 11 candidates 65.45 minutes apart (minute − hour = 5.5t); the 12 picks one.
let decodeTime (wm: float, wh: float, w12: float) (minuteHand: Tensor) (hourHand: Tensor) (twelve: Tensor) : Tensor * Tensor =
    use scope = DisposeScope.Enter()
    let rad = Math.PI / 180.0
    let t = Torch.Arange(0.0, 720.0, 1.0, DType.Float32).Unsqueeze(0L)
    let am = (minuteHand.Unsqueeze(1L) - t * 6.0) * rad
    let ah = (hourHand.Unsqueeze(1L) - t * 0.5) * rad
    let a12 = twelve.Unsqueeze(1L) * rad
    let c = am.Cos() * wm + ah.Cos() * wh + a12.Cos() * w12
    let s = am.Sin() * wm + ah.Sin() * wh + a12.Sin() * w12
    let best = (c * c + s * s).Argmax(1L)
    scope.MoveOut((best - best.Remainder(60L)).To(DType.Float32).Div_(60.0).To(DType.Int64)), scope.MoveOut(best.Remainder(60L))

/// Geometric heads: the directions on screen of the minute hand, the hour hand and the 12 (each `Loss.circular 360`
/// on degrees clockwise from up), read by `decodeTime`. The targets come from the generator (the clock's rotation is
/// part of its spec), which the seed's photographs did not have.
let geometric (weights: float * float * float) = {
    Name = "geometric heads (hands and 12 on screen)"
    Targets =
        fun s ->
            let col f = Value.T(floats [| for x in s -> float32 ((f x % 360.0 + 360.0) % 360.0) |])
            Value.Heads [
                "minute_hand", col (fun x -> x.MinuteAngleDegrees + x.RotationDegrees)
                "hour_hand", col (fun x -> x.HourAngleDegrees + x.RotationDegrees)
                "twelve", col (fun x -> x.RotationDegrees)
            ]
    Loss = Loss.perHead [ "minute_hand", Loss.circular 360.0, 1.0; "hour_hand", Loss.circular 360.0, 1.0; "twelve", Loss.circular 360.0, 1.0 ]
    Read =
        fun v ->
            let at name = Loss.circularPosition 360.0 (head name v)
            decodeTime weights (at "minute_hand") (at "hour_hand") (at "twelve")
    ReadTarget = fun v -> decodeTime (1.0, 1.0, 1.0) (head "minute_hand" v) (head "hour_hand" v) (head "twelve" v)
}

/// How far the decoder's candidates lie apart in the rotation they imply (degrees): the hands fix the time up to 11
/// candidates 720/11 minutes apart, and moving the time by that turns the rotation the minute and the hour hand imply
/// by 6 · 720/11 − 360 = 32.7°; so the 12's direction picks the right candidate only within half of that, ±16.4°.
let twelveTolerance = (6.0 * 720.0 / 11.0 - 360.0) / 2.0

/// The median angle error (degrees, the short way round) of predicted against true directions [N] and the share
/// beyond `twelveTolerance`.
let angleErrors (predicted: Tensor) (truth: Tensor) : float * float =
    use scope = DisposeScope.Enter()
    let d = (predicted - truth).Abs().Remainder(360.0)
    let e = d.Minimum(360.0 - d).ToArray<float32>() |> Array.map float |> Array.sort
    e.[e.Length / 2], float (e |> Array.filter (fun x -> x > twelveTolerance) |> Array.length) / float e.Length

/// `angleErrors` of named directions as one line: "minute_hand 3.1° (2% beyond ±16.4°), …".
let angleErrorsLine (errors: (string * (float * float)) list) =
    errors |> List.map (fun (name, (median, beyond)) -> sprintf "%s %.1f° (%.0f%% beyond ±%.1f°)" name median (100.0 * beyond) twelveTolerance) |> String.concat ", "

/// Per head of a geometric model, the median angle error (degrees) of predictions against the clocks' geometry and the
/// share beyond `twelveTolerance`: which head the common-sense error comes from.
let headErrors (predictions: Value) (specs: ClockSpec[]) : (string * float * float) list =
    use scope = DisposeScope.Enter()
    let targets = (geometric (1.0, 1.0, 1.0)).Targets specs
    [
        for name in [ "minute_hand"; "hour_hand"; "twelve" ] ->
            let median, beyond = angleErrors (Loss.circularPosition 360.0 (head name predictions)) (Value.tensor (Value.head name targets))
            name, median, beyond
    ]

/// `headErrors` as one line: "median angle error minute_hand 3.1° (2% beyond ±16.4°), …".
let headErrorsLine (predictions: Value) (specs: ClockSpec[]) =
    headErrors predictions specs |> List.map (fun (name, m, b) -> name, (m, b)) |> angleErrorsLine |> sprintf "median angle error %s"

/// The metric of a form: the mean common-sense error in minutes, reading predictions and targets with the form.
let errorMetric (form: Form) = Metric.commonSenseErrorWith form.Read form.ReadTarget

/// A small fast CNN for the geometric heads at any size ≥ 32: a 3×3 convolution of 16 with stride 2, then blocks of
/// 3×3 convolution (no bias), batch norm and ReLU of 32, 64 and 128 channels each followed by a 2×2 max pool, a last
/// block of 128, flatten (positions kept: a direction is read from where the dark pixels lie), dense 256, and three
/// 2-vector heads. About 17M multiply-adds per 64×64 clock, a third of the same blocks without the stride.
let geometricNet =
    let block (stride: int) (f: int) = [ conv2dWith { ConvOptions.Default with Padding = Same; Bias = false; Stride = stride } f (3, 3); batchNorm; relu ]
    serial (List.concat [ block 2 16; block 1 32; [ maxPool 2 ]; block 1 64; [ maxPool 2 ]; block 1 128; [ maxPool 2 ]; block 1 128 ])
    >-> serial [ flatten; dense 256; relu ]
    >-> fanOut [ "minute_hand", dense 2; "hour_hand", dense 2; "twelve", dense 2 ]

/// The CPU time of this process so far (all threads), which other work on the machine does not inflate.
let cpuTime () = Diagnostics.Process.GetCurrentProcess().TotalProcessorTime

// ---------------------------------------------------------------- keypoints: where the centre, the 12 and the tips lie

/// The points a clock is read from: the dial's centre, the middle of the 12's double tick, the minute hand's tip and
/// the hour hand's tip. Each direction (twelve, minute, hour) is that point's bearing from the centre.
let keypointNames = [ "centre"; "twelve"; "minute_tip"; "hour_tip" ]

/// A clock's keypoints (in `keypointNames`' order) in normalised image coordinates: u = (x − (S − 1)/2) / (S/2) with
/// x in pixels of the spec's size S (pixel centres at integers), so −1 … 1 across the image at any resolution it is
/// drawn or resized to.
let keypointsOf (s: ClockSpec) : (float * float) list =
    let inner = s.Radius - s.RimWidth
    let at (deg: float) (r: float) =
        let a = (deg + s.RotationDegrees) * Math.PI / 180.0
        s.CenterX + r * sin a, s.CenterY - r * cos a
    let norm (x: float, y: float) = let h = float s.Size / 2.0 in (x - (float s.Size - 1.0) / 2.0) / h, (y - (float s.Size - 1.0) / 2.0) / h
    [ s.CenterX, s.CenterY; at 0.0 (inner * 0.86); at s.MinuteAngleDegrees (s.MinuteLength * s.Radius); at s.HourAngleDegrees (s.HourLength * s.Radius) ] |> List.map norm

/// A point's mass spread bilinearly over the four nearest cell centres of a `cells`×`cells` grid over the image
/// (written into `row`, cells row-major): a distribution whose mean is the point itself, so that a heatmap that learns
/// it finds the point and keeps its position within the cell.
let private spread (cells: int) (row: Span<float32>) (u: float, v: float) =
    let split (z: float) =
        let f = max 0.0 (min (float cells - 1.0) ((z + 1.0) / 2.0 * float cells - 0.5))
        let j = min (cells - 2) (int (floor f))
        j, f - float j
    let (j, a), (i, b) = split u, split v
    row.[i * cells + j] <- float32 ((1.0 - a) * (1.0 - b))
    row.[i * cells + j + 1] <- float32 (a * (1.0 - b))
    row.[(i + 1) * cells + j] <- float32 ((1.0 - a) * b)
    row.[(i + 1) * cells + j + 1] <- float32 (a * b)

/// The mean position (normalised, as `keypointsOf`) under weights over cell centres [N, H, W] that sum to 1: [N, 2] (u, v).
let private expectedPosition (p: Tensor) : Tensor =
    let grid (m: int64) = (Torch.Arange(0.0, float m, 1.0, p.DType, p.Device) + 0.5) * (2.0 / float m) - 1.0
    let h, w = p.Size 1, p.Size 2
    let u = (p * grid(w).Reshape(1L, 1L, w)).Sum([| 1L; 2L |])
    let v = (p * grid(h).Reshape(1L, h, 1L)).Sum([| 1L; 2L |])
    Torch.Stack([| u; v |], 1L)

/// The expected position (normalised, as `keypointsOf`) under the softmax of one heatmap channel: [N, K, H, W] → [N, 2]
/// (u, v), differentiable (integral regression, Sun et al. 2018; DSNT).
let softArgmax (k: int) (x: Tensor) : Tensor =
    let n, h, w = x.Size 0, x.Size 2, x.Size 3
    expectedPosition (Functional.Softmax(x.Select(1L, int64 k).Reshape(n, h * w), 1L).Reshape(n, h, w))

/// The position (normalised, as `keypointsOf`) of the strongest peak of square heatmaps' logits [N, C·C]: the
/// soft-argmax over the 3×3 cells around the argmax. The global soft-argmax (the "_xy" head that trains the sub-cell
/// position) lands between two peaks when the network hesitates between two ticks; this reads the stronger one.
let peakOf (logits: Tensor) : Tensor =
    use scope = DisposeScope.Enter()
    let n = logits.Size 0
    let cells = int64 (round (sqrt (float (logits.Size 1))))
    let p = Functional.Softmax(logits, 1L).Reshape(n, cells, cells)
    let best = logits.Argmax(1L).To(DType.Float32)
    let bi = (best / float cells).Floor()
    let bj = best - bi * float cells
    let idx = Torch.Arange(0.0, float cells, 1.0, DType.Float32)
    let near (at: Tensor) (shape: int64[]) = (idx.Reshape(shape) - at.Reshape(n, 1L, 1L)).Abs().Le(1.0).To(DType.Float32)
    let w = p * near bi [| 1L; cells; 1L |] * near bj [| 1L; 1L; cells |]
    scope.MoveOut(expectedPosition (w / w.Sum([| 1L; 2L |], true)))

/// The bearing on screen (degrees clockwise from up) of each point [N, 2] from the centres [N, 2] (normalised coordinates).
let private bearing (centre: Tensor) (point: Tensor) =
    let d = point - centre
    d.Select(1L, 0L).Atan2(d.Select(1L, 1L).Neg()) * (180.0 / Math.PI)

/// The time from keypoint positions (`at name`, [N, 2] each): the hands' and the 12's bearings from the centre, decoded.
let private readKeypoints (weights: float * float * float) (at: string -> Tensor) =
    let c = at "centre"
    decodeTime weights (bearing c (at "minute_tip")) (bearing c (at "hour_tip")) (bearing c (at "twelve"))

/// Keypoint heads: per keypoint a heatmap's logits over its cells ("<name>_map", cross-entropy against the point
/// spread over its four nearest cells as class probabilities, weighted `mapWeight`: it finds the point and keeps its
/// place in the cell) and its soft-argmax ("<name>_xy", mean squared error in normalised coordinates, weighted
/// `xyWeight`). Reads the strongest peak of each map (`peakOf`), each hand's and the 12's bearing from the centre, and
/// the time off them with `decodeTime`.
let keypoints (cells: int) (mapWeight: float) (xyWeight: float) (weights: float * float * float) = {
    Name = "keypoint heatmaps (centre, 12, hand tips)"
    Targets =
        fun specs ->
            let points = specs |> Array.map keypointsOf
            Value.Heads [
                for k, name in List.indexed keypointNames do
                    let maps = Array.zeroCreate<float32>(points.Length * cells * cells)
                    for n, p in Array.indexed points do
                        spread cells (Span(maps, n * cells * cells, cells * cells)) p.[k]
                    yield name + "_map", Value.T(Torch.From(maps, [| int64 points.Length; int64 (cells * cells) |]))
                    yield
                        name + "_xy",
                        Value.T(
                            Torch.From(
                                [|
                                    for p in points do
                                        yield float32 (fst p.[k])
                                        yield float32 (snd p.[k])
                                |],
                                [| int64 points.Length; 2L |]
                            )
                        )
            ]
    Loss =
        Loss.perHead [
            for name in keypointNames do
                yield name + "_map", Loss.crossEntropy, mapWeight
                yield name + "_xy", Loss.mse, xyWeight
        ]
    Read = fun v -> readKeypoints weights (fun name -> peakOf (head (name + "_map") v))
    ReadTarget = fun v -> readKeypoints (1.0, 1.0, 1.0) (fun name -> head (name + "_xy") v)
}

/// A fully convolutional keypoint network for images of side S (a multiple of 4): 3×3 convolutions with batch norm
/// and ReLU — 24 channels at stride 2, 32 more, a 2×2 max pool, then `width` channels at S/4 with dilations 1, 2, 4 and
/// 8 (so that each cell sees the whole dial: a tip is told from a tick by the hand that leads to it) — and a 1×1
/// convolution to one heatmap per keypoint, read out by `keypoints`' heads.
let keypointNet (width: int) =
    let block (stride: int) (dilation: int) (f: int) = [
        conv2dWith { ConvOptions.Default with Padding = Same; Bias = false; Stride = stride; Dilation = dilation } f (3, 3)
        batchNorm
        relu
    ]
    let k = List.length keypointNames
    serial (List.concat [ block 2 1 24; block 1 1 32; [ maxPool 2 ]; block 1 1 width; block 1 2 width; block 1 4 width; block 1 8 width ])
    >-> conv2dWith { ConvOptions.Default with Padding = Same } k (1, 1)
    >-> fanOut [
        for i, name in List.indexed keypointNames do
            yield name + "_map", fn (name + "_map") (fun x -> x.Select(1L, int64 i).Flatten(1L))
            yield name + "_xy", fn (name + "_xy") (softArgmax i)
    ]

/// Per direction of a keypoint model (twelve, minute and hour bearing from the centre), the median angle error (degrees)
/// against the clocks' geometry and the share beyond `twelveTolerance`, as one line; and the centre's median error in
/// pixels of the spec's size.
let keypointErrorsLine (predictions: Value) (specs: ClockSpec[]) =
    use scope = DisposeScope.Enter()
    let at name = peakOf (head (name + "_map") predictions)
    let centre = at "centre"
    let degrees (f: ClockSpec -> float) = Torch.From([| for s in specs -> float32 (f s) |], [| int64 specs.Length |])
    let angles =
        angleErrorsLine [
            "twelve", angleErrors (bearing centre (at "twelve")) (degrees _.RotationDegrees)
            "minute_tip", angleErrors (bearing centre (at "minute_tip")) (degrees (fun s -> s.MinuteAngleDegrees + s.RotationDegrees))
            "hour_tip", angleErrors (bearing centre (at "hour_tip")) (degrees (fun s -> s.HourAngleDegrees + s.RotationDegrees))
        ]
    let c = centre.ToArray<float32>()
    let median (xs: float[]) = let s = Array.sort xs in s.[s.Length / 2]
    let centreError =
        median [|
            for i, s in Array.indexed specs ->
                let h = float s.Size / 2.0
                let dx, dy = float c.[2 * i] * h + (float s.Size - 1.0) / 2.0 - s.CenterX, float c.[2 * i + 1] * h + (float s.Size - 1.0) / 2.0 - s.CenterY
                sqrt (dx * dx + dy * dy)
        |]
    sprintf "median bearing error %s; centre %.2f px at %d" angles centreError specs.[0].Size
