/// Runs the scaling series (Scaling.fs) with the orchestrator's workers and rounds: S1 and S2 on the main
/// run's three workers (each point's rounds interleaved and rotated like every benchmark's), S3 on one
/// worker per side and thread count (all in the same rounds), S4 in a fresh process per side, size and round.
module Bench.ScalingRun

open System
open System.IO
open System.Text.Json.Nodes
open Bench.Protocol
open Bench.Orchestrator
open Bench.Scaling

/// What the series need from the run: where the repository is, the options, the run's deadline, its
/// error list and output, the other processes' CPU share recorder, the C++ side's executable, and how
/// workers are started.
type Context = {
    Root: string
    Options: Options
    Deadline: unit -> bool
    Errors: Collections.Generic.List<string>
    Emit: string -> unit
    Busy: string -> float -> unit
    Cpp: Result<string, string>
    StartAll: Worker list -> unit
}

/// The three sides' workers with `threads` intra-op threads (named with `suffix`); the C++ one is marked
/// unavailable when it was not built.
let workers (c: Context) (threads: int) (suffix: string) : Worker list =
    let threadArgs = [ "--threads"; string threads ]
    let dslExe, dslArgs = dslCommand threadArgs
    let dsl = new Worker("dsl" + suffix, dslExe, dslArgs, measuredEnv 1, c.Root)
    let py = new Worker("torch_py" + suffix, pythonExe (), [ Path.Combine(c.Root, "bench", "torch_bench.py") ] @ threadArgs, measuredEnv 1, c.Root)
    let cpp =
        match c.Cpp with
        | Ok exe -> new Worker("cpp" + suffix, exe, threadArgs, measuredEnv 1, c.Root)
        | Error e ->
            let w = new Worker("cpp" + suffix, "torch_bench_cpp", [], [], c.Root)
            w.Unavailable("cpp: not built: " + e)
            w
    [ dsl; py; cpp ]

let private rounds (c: Context) (full: int) =
    match c.Options.Rounds with
    | Some n -> n
    | None -> if c.Options.Quick then 1 else full

let private pids (ws: Worker list) () = Environment.ProcessId :: List.choose (fun (w: Worker) -> w.Pid) ws

/// A point from each side's series (the sides in Scaling.sides' order) and the other processes' share.
let private point (x: int) (label: string) (series: (string * Series) list) (foreign: float) (errors: Collections.Generic.List<string>) =
    for _, s in series do
        for e in s.Errors do
            errors.Add e
    {
        X = x
        Label = label
        Figures = Map [ for side, s in series -> side, s.Min ]
        Details = Map [ for side, s in series -> side, (s.Json :> JsonNode | null) ]
        OtherCpuShare = foreign
    }

/// S1 or S2 on the main run's three workers `main` (dsl, torch_py, cpp): one point per batch size or width.
let sweep (c: Context) (series: string) (main: Worker list) (peakGflops: float) : Point list = [
    let xs, counts, budget = if series = "S1" then batches, s1Counts, 15.0 else widths, s2Counts, 20.0
    for x in xs do
        if not (c.Deadline()) then
            let k = counts c.Options.Quick x
            let name = request series x
            let measured = List.zip sides [ for _ in main -> Series() ]
            let probe = LoadProbe(pids main)
            runRounds
                c.Deadline
                name
                (List.zip main (List.map snd measured))
                { Bench = name; Reps = k.Reps; Iters = k.Iters; Warm = k.Warm }
                (rounds c 3)
                (not c.Options.Quick)
                budget
                300.0
            |> ignore
            let foreign = probe.Foreign()
            c.Busy name foreign
            let p = point x "" measured foreign c.Errors
            c.Emit(line series peakGflops p)
            yield p
]

/// S3: B2 and B3 on one worker per side and thread count, all of them in each round (order rotating).
let threads (c: Context) : Point list =
    let counts = threadCounts Environment.ProcessorCount
    let byThreads = [ for t in counts -> t, workers c t (sprintf "_t%d" t) ]
    let all = byThreads |> List.collect snd
    try
        c.StartAll all
        [
            for bench in threadBenches do
                if not (c.Deadline()) then
                    let k = s3Counts c.Options.Quick bench
                    let series = [ for t, ws in byThreads -> t, List.zip sides [ for _ in ws -> Series() ] ]
                    let pairs = [ for (_, ws), (_, ss) in List.zip byThreads series -> List.zip ws (List.map snd ss) ] |> List.concat
                    let probe = LoadProbe(pids all)
                    runRounds c.Deadline ("S3 " + bench) pairs { Bench = bench; Reps = k.Reps; Iters = k.Iters; Warm = k.Warm } (rounds c 4) (not c.Options.Quick) 45.0 300.0
                    |> ignore
                    let foreign = probe.Foreign()
                    c.Busy ("S3_" + bench) foreign
                    let points = [ for t, ss in series -> point t bench ss foreign c.Errors ]
                    for p in points do
                        c.Emit(line "S3" nan p)
                    yield! points
        ]
    finally
        for w in all do
            (w :> IDisposable).Dispose()

/// S4: per round, per size, per side (order rotating) a fresh worker answers one `S4:<n>` request; the
/// points are the minimum peak RSS ("peak") and the minimum peak above the RSS before the data ("growth").
let loader (c: Context) : Point list = [
    let n = rounds c 2
    for size in datasetSizes do
        if not (c.Deadline()) then
            let peak = [ for s in sides -> s, Series() ]
            let growth = [ for s in sides -> s, Series() ]
            let shares = Collections.Generic.List<float>()
            for r in 0 .. n - 1 do
                for i in 0 .. sides.Length - 1 do
                    let k = (i + r) % sides.Length
                    let ws = workers c c.Options.Threads (sprintf "_s4_%d" size)
                    try
                        let w = ws.[k]
                        c.StartAll [ w ]
                        let probe = LoadProbe(pids [ w ])
                        match w.Request({ Bench = request "S4" size; Reps = 1; Iters = 1; Warm = 0 }, TimeSpan.FromSeconds 300.0) with
                        | Ok reply ->
                            shares.Add(probe.Foreign())
                            let v = (values reply).Head
                            (snd peak.[k]).Rounds.Add [ v ]
                            let before = (field reply "rss_before_data_mb").GetValue<float>()
                            (snd growth.[k]).Rounds.Add [ v - before ]
                        | Error e -> (snd peak.[k]).Errors.Add e
                    finally
                        for w in ws do
                            (w :> IDisposable).Dispose()
            let foreign = if shares.Count = 0 then nan else Seq.average shares
            c.Busy (request "S4" size) foreign
            let p = point size "peak" peak foreign c.Errors
            let g = point size "growth" growth foreign (Collections.Generic.List())
            c.Emit(line "S4" nan p)
            c.Emit(line "S4" nan g)
            yield p
            yield g
]
