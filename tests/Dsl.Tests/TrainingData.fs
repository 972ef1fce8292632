/// Shared helpers of the training tests: small synthetic data sets (Gaussian blobs, time of day for a
/// two-head model, noisy labels that overfit), console capture, exact comparison of parameter trees,
/// temporary directories and a spy callback.
module Dsl.Tests.TrainingData

open System
open System.IO
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers

/// `k` Gaussian blobs in 2-D (centers on a circle of radius `radius`), `perClass` points each with
/// standard deviation `spread`. Samples are interleaved (sample i has class i % k), so any trailing
/// validation split holds every class. Inputs float32 [n; 2], labels int64 [n].
let blobs (k: int) (perClass: int) (radius: float) (spread: float) (seed: int64) : Tensor * Tensor =
    let n = k * perClass
    use g = new Generator(seed)
    let noise = Scope.run (fun () -> Torch.Randn([| int64 n; 2L |], g).ToArray<float32>())
    let labels = Array.init n (fun i -> int64 (i % k))
    let xs =
        Array.init (2 * n) (fun j ->
            let i, d = j / 2, j % 2
            let angle = 2.0 * Math.PI * float labels.[i] / float k
            let center = radius * (if d = 0 then cos angle else sin angle)
            float32 center + float32 spread * noise.[j])
    Torch.From<float32>(xs, [| int64 n; 2L |]), Torch.From<int64>(labels, [| int64 n |])

/// The center of blob `c` of `k`, scaled by `scale` (a point deep inside class c's region).
let blobCenter (k: int) (radius: float) (scale: float) (c: int) : float32[] =
    let angle = 2.0 * Math.PI * float c / float k
    [| float32 (scale * radius * cos angle); float32 (scale * radius * sin angle) |]

/// Standard-normal 2-D inputs labelled by the sign of their first coordinate, with a fraction `flip`
/// of the labels flipped (noise a big network can memorise). Inputs float32 [n; 2], labels int64 [n].
let noisySign (n: int) (flip: float) (seed: int64) : Tensor * Tensor =
    use g = new Generator(seed)
    let xs = Scope.run (fun () -> Torch.Randn([| int64 n; 2L |], g).ToArray<float32>())
    let rnd = Random(int seed)
    let labels = Array.init n (fun i -> let y = if xs.[2 * i] > 0.0f then 1L else 0L in if rnd.NextDouble() < flip then 1L - y else y)
    Torch.From<float32>(xs, [| int64 n; 2L |]), Torch.From<int64>(labels, [| int64 n |])

/// Times of day for a two-head model: inputs [cos, sin] of the hour and of the minute angle (float32
/// [n; 4]); targets the hour (0..11) and the minute (0..59) as int64 heads.
let clock (n: int) : Tensor * int64[] * int64[] =
    let hours = Array.init n (fun i -> int64 (i % 12))
    let minutes = Array.init n (fun i -> int64 ((i * 7) % 60))
    let xs =
        Array.init n (fun i ->
            let h = 2.0 * Math.PI * float hours.[i] / 12.0
            let m = 2.0 * Math.PI * float minutes.[i] / 60.0
            [| cos h; sin h; cos m; sin m |] |> Array.map float32)
        |> Array.concat
    Torch.From<float32>(xs, [| int64 n; 4L |]), hours, minutes

/// int64 labels as a tensor.
let labelsOf (ls: int64[]) : Tensor = Torch.From<int64>(ls, [| int64 ls.Length |])

/// Runs `f` with Console.Out redirected to a string; returns its result (or exception) and the text.
let capture (f: unit -> 'T) : Result<'T, exn> * string =
    let old = Console.Out
    use sw = new StringWriter()
    Console.SetOut sw
    let r =
        try
            Ok(f ())
        with e ->
            Error e
    Console.SetOut old
    r, sw.ToString()

/// The lines of captured text (without a trailing empty line).
let lines (text: string) : string list = text.Replace("\r\n", "\n").Split('\n') |> List.ofArray |> List.filter (fun l -> l <> "")

/// Asserts that two parameter trees have the same paths and bit-identical tensors.
let expectSameParams (what: string) (expected: Params) (actual: Params) =
    expectEqual (what + ": parameter paths") (Tree.paths expected) (Tree.paths actual)
    for (p, a), (_, b) in List.zip (Tree.toList expected) (Tree.toList actual) do
        if not (a.Equal b) then
            let d = Scope.run (fun () -> (a.To(DType.Float64) - b.To(DType.Float64)).Abs().Max().ToDouble())
            failtest (sprintf "%s: parameter '%s' differs (max |difference| %g)" what p d)

/// True when every leaf of the two trees is bit-identical.
let sameParams (a: Params) (b: Params) = Tree.paths a = Tree.paths b && List.forall2 (fun (x: Tensor) (y: Tensor) -> x.Equal y) (Tree.leaves a) (Tree.leaves b)

/// Runs `f` with a fresh temporary directory, deleted afterwards.
let withTempDir (f: string -> 'T) : 'T =
    let dir = Path.Combine(Path.GetTempPath(), "dsl-tests-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory dir |> ignore
    try
        f dir
    finally
        (try
            Directory.Delete(dir, true)
         with _ ->
             ())

/// A callback recording the train and epoch hooks it receives, as "begin", "epoch_begin 3", "epoch_end 3", "end".
let spy () : Callback * Collections.Generic.List<string> =
    let calls = Collections.Generic.List<string>()
    {
        Callback.create "Spy" with
            OnTrainBegin = fun _ -> calls.Add "begin"
            OnEpochBegin = fun c -> calls.Add(sprintf "epoch_begin %d" c.Epoch)
            OnEpochEnd = fun c -> calls.Add(sprintf "epoch_end %d" c.Epoch)
            OnTrainEnd = fun _ -> calls.Add "end"
    },
    calls

/// A callback recording every hook, batch hooks included: "train_batch_begin 1.0 (8)", "train_batch_end 1.0 (8)
/// loss", "test_batch_end 1.2 (4) loss" (epoch.batch, size, logged names), besides the spy's.
let batchSpy () : Callback * Collections.Generic.List<string> =
    let calls = Collections.Generic.List<string>()
    let cb, epochs = spy ()
    let batch (hook: string) (c: TrainingContext) (l: BatchLogs) =
        calls.Add(sprintf "%s %d.%d (%d)%s" hook c.Epoch l.Batch l.Size (l.Values |> List.map (fun (n, _) -> " " + n) |> String.concat ""))
    {
        cb with
            OnTrainBegin =
                fun c ->
                    cb.OnTrainBegin c
                    calls.Add epochs.[epochs.Count - 1]
            OnEpochBegin =
                fun c ->
                    cb.OnEpochBegin c
                    calls.Add epochs.[epochs.Count - 1]
            OnEpochEnd =
                fun c ->
                    cb.OnEpochEnd c
                    calls.Add epochs.[epochs.Count - 1]
            OnTrainEnd =
                fun c ->
                    cb.OnTrainEnd c
                    calls.Add epochs.[epochs.Count - 1]
            OnTrainBatchBegin = batch "train_batch_begin"
            OnTrainBatchEnd = batch "train_batch_end"
            OnTestBatchBegin = batch "test_batch_begin"
            OnTestBatchEnd = batch "test_batch_end"
    },
    calls

/// The logged value `name` of an epoch (fails naming the logged names when absent).
let logged (name: string) (l: EpochLogs) : float =
    match l.TryGet name with
    | Some v -> v
    | None -> failwithf "epoch %d has no '%s'; logged: %A" l.Epoch name (List.map fst l.Values)

/// Fit options for quick, quiet tests.
let quiet: FitOptions = { FitOptions.Default with Verbosity = Silent }
