#load "../Dsl.fsx"
// Tell the time: a small CNN regresses the sine and cosine of both hands' angles on synthetic clocks, then reads
// the time off them (the hour from the hour hand, corrected by the minute hand). Prints the hour accuracy (chance:
// 1/12) and the median and mean common-sense error in minutes (chance: about 180) on held-out clocks.
//   dotnet fsi build.fsx run examples/clocks_cnn.fsx [--preset easy|default] [--train N] [--epochs E] [--minutes M] [--quick]
// Training stops after the epoch that would otherwise end past M minutes (default 5).
// --preset easy (the default here) is ClockOptions.Easy: upright, plain 64×64 clocks, learnt in minutes on a CPU.
// --preset default is seed 004's data (any orientation, clutter), shrunk to 64×64: a plain CNN stays at chance.
open System.Diagnostics
open Dsl
open Dsl.Engine
open Dsl.Data

let args = fsi.CommandLineArgs |> Array.tail
let arg name fallback =
    match Array.tryFindIndex ((=) name) args with
    | Some i -> args.[i + 1]
    | None -> fallback
let quick = Array.contains "--quick" args
let preset = arg "--preset" "easy"
let nTrain = int (arg "--train" (if quick then "256" else "3000"))
let nTest = if quick then 64 else 1000
let epochs = int (arg "--epochs" (if quick then "1" else "40"))
let budget = System.TimeSpan.FromMinutes(float (arg "--minutes" "5"))

let options =
    match preset with
    | "easy" -> ClockOptions.Easy
    | "default" -> ClockOptions()
    | other -> failwithf "clocks_cnn: unknown preset %s (easy or default)" other

// Images as float32 [N, 1, 64, 64] in [0, 1]; targets [N, 4]: sin and cos of the hour and minute hands' dial angles.
let load (count: int) (seed: int64) =
    use clocks = Clocks.Generate(count, seed, options)
    let images =
        Scope.keep (fun () ->
            let x = clocks.Images
            let x = if x.Size 2 = 64L then x else Resize(64L, 64L, InterpolationMode.Area).Apply x
            x.To(DType.Float32).Div_(255.0))
    let angles = [|
        for s in clocks.Specs do
            let h, m = s.HourAngleDegrees * System.Math.PI / 180.0, s.MinuteAngleDegrees * System.Math.PI / 180.0
            yield! [| float32 (sin h); float32 (cos h); float32 (sin m); float32 (cos m) |]
    |]
    images, Torch.From(angles, int64 count, 4L), clocks.Hours.Clone(), clocks.Minutes.Clone()

let watch = Stopwatch.StartNew()
let xTrain, yTrain, _, _ = load nTrain 1L
let xTest, _, hTest, mTest = load nTest 2L
printfn "clocks_cnn: preset %s, %d training and %d test clocks rendered in %.1f s" preset nTrain nTest watch.Elapsed.TotalSeconds

let conv f = conv2dWith { ConvOptions.Default with Padding = Same; Activation = Some Activation.relu } f (3, 3)
let cnn = serial [ conv 16; maxPool 2; conv 32; maxPool 2; conv 64; maxPool 2; conv 64; maxPool 2; flatten; dense 128; relu; dense 4 ]
let model = Model.buildSeeded 7L [ 1L; 64L; 64L ] cnn

let fitOptions = {
    FitOptions.Default with
        Loss = Loss.mse
        Metrics = []
        Optimizer = Optimizers.adam 2e-3
        Epochs = epochs
        BatchSize = 64
        Seed = 7L
        Verbosity = Verbosity.Lines
}
let trainWatch = Stopwatch.StartNew()
// Stops at an epoch's end when one more epoch as long as the last would end past the budget.
let timeBudget =
    let mutable last = System.TimeSpan.Zero
    {
        Callback.create "timeBudget" with
            OnEpochEnd =
                fun ctx ->
                    let now = trainWatch.Elapsed
                    if now + (now - last) > budget then ctx.Stop()
                    last <- now
    }
let trained = Training.fit { fitOptions with Callbacks = [ timeBudget ] } model xTrain (Value.T yTrain)
let trainSeconds = trainWatch.Elapsed.TotalSeconds

// Reading the time: the minute from the minute hand; the hour hand gives minutes since 12 (0–720), and the hour is
// the one that, with the minute read, comes nearest to it.
let readTime (p: Tensor) =
    Scope.keep (fun () ->
        let angle (s: Tensor) (c: Tensor) = (s.Atan2 c + 2.0 * System.Math.PI).Remainder(2.0 * System.Math.PI) / (2.0 * System.Math.PI)
        let hourHand = angle (p.Select(1L, 0L)) (p.Select(1L, 1L)) * 720.0
        let minute = (angle (p.Select(1L, 2L)) (p.Select(1L, 3L)) * 60.0).Floor().Clamp(0.0, 59.0)
        let hour = ((hourHand - minute) / 60.0).Round().Remainder(12.0)
        Torch.Stack([| hour.To(DType.Int64); minute.To(DType.Int64) |], 1L))

let time = readTime (Training.predict 256 trained.Model xTest |> Value.tensor)
let hours, minutes = time.Select(1L, 0L), time.Select(1L, 1L)
let hourAccuracy = hours.Eq(hTest).To(DType.Float32).Mean().ToDouble()
let errors = Clocks.CommonSenseError(hours, minutes, hTest, mTest).To(DType.Float32)
printfn "trained %d epochs in %.0f s" trained.History.Length trainSeconds
printfn
    "preset %s: hour accuracy %.1f%% (chance 8.3%%), minute error median %.0f, mean %.1f (chance about 180)"
    preset
    (100.0 * hourAccuracy)
    (errors.Median().ToDouble())
    (errors.Mean().ToDouble())
