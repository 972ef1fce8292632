/// B7, data-parallel training (issue #18): (a) images/s of one Fashion-MNIST CNN epoch (the CNN of
/// examples/distributed.fsx) with 2 processes × 1 thread against 1 process × 2 threads, and (b) the cost of one
/// step's bucketed gradient all-reduce between 2 processes, Dsl's `ProcessGroup.AverageGradients` against
/// python3-torch doing DistributedDataParallel's bucket work with torch.distributed (Gloo) on the same tensor sizes.
/// Every rank is a fresh process on 127.0.0.1 (`Bench b7-rank key=value …`, `bench/torch_dist_bench.py`), started
/// with a timeout after which the whole job is killed, so a failure cannot hang the bench.
module Bench.DistBench

open System
open System.Diagnostics
open System.Net
open System.Net.Sockets
open System.Text.Json.Nodes
open Dsl
open Dsl.Engine
open Dsl.Data
open Bench.Protocol

// ---------------------------------------------------------------- one rank (`Bench b7-rank`)

/// The CNN of examples/distributed.fsx: 121,930 float32 parameters.
let cnn = serial [ conv2d 32 3; relu; maxPool 2; conv2d 64 3; relu; maxPool 2; flatten; dense 64; relu; dense 10 ]

/// The first `n` Fashion-MNIST training images, normalised as in the example, or seeded generated data of the same
/// shape when the data set is not installed; and which of the two it is.
let private images (n: int64) : Tensor * Tensor * string =
    try
        let struct (x, y) = FashionMnist.Load(true)
        let xs = x.Narrow(0L, 0L, n).To(DType.Float32).Div_(255.0).Sub_(0.2860).Div_(0.3530).Unsqueeze(1L)
        xs, y.Narrow(0L, 0L, n), "fashion-mnist"
    with :? IO.FileNotFoundException ->
        use g = new Generator(1L)
        Torch.Randn([| n; 1L; 28L; 28L |], g), Torch.Randint(0L, 10L, [| n |], g), "generated"

let private kv (args: string list) =
    args
    |> List.map (fun a ->
        match a.IndexOf '=' with
        | i when i > 0 -> a.Substring(0, i), a.Substring(i + 1)
        | _ -> failwithf "b7-rank: expected key=value, got %s" a)
    |> Map.ofList

/// `Bench b7-rank mode=epoch|allreduce …`: one rank of a B7 job (the job's place from RANK/WORLD_SIZE/MASTER_*;
/// alone without them). Rank 0 prints one JSON line with the result.
let rank (args: string list) : int =
    let a = kv args
    let get k d = a |> Map.tryFind k |> Option.defaultValue d
    Torch.NumThreads <- int (get "threads" "1")
    use group = Distributed.initWith (TimeSpan.FromSeconds(float (get "timeout" "60")))
    let distributed = if group.WorldSize > 1 then Some group else None
    let reply =
        match get "mode" "epoch" with
        | "epoch" ->
            // The global batch is the same in both configurations (128 = 1 × 128 or 2 × 64), so both take the same
            // steps over the same images; the first epoch warms up (oneDNN's kernels, the JIT), the last is timed.
            let n = int64 (get "n" "6000")
            let epochs = int (get "epochs" "2")
            let x, y, source = images n
            let marks = Collections.Generic.List<float>()
            let watch = Stopwatch()
            let clock = {
                Callback.create "B7 clock" with
                    OnTrainBegin = fun _ -> watch.Start()
                    OnEpochEnd = fun _ -> marks.Add watch.Elapsed.TotalSeconds
            }
            let o = {
                FitOptions.Default with
                    Optimizer = Optimizers.adam 1e-3
                    Epochs = epochs
                    BatchSize = 128 / group.WorldSize
                    Seed = 1L
                    Verbosity = Silent
                    Distributed = distributed
                    Callbacks = [ clock ]
            }
            let model = Model.buildSeeded 1L [ 1L; 28L; 28L ] cnn
            let trained = Training.fit o model x (Value.T y)
            Model.dispose trained.Model
            // Callbacks run on rank 0 only: the other ranks have no marks (and print nothing).
            let last =
                match marks.Count with
                | 0 -> nan
                | 1 -> marks.[0]
                | k -> marks.[k - 1] - marks.[k - 2]
            obj [
                "values", numbers [ last ]
                "images_per_s", num (float n / last)
                "epoch_marks_s", numbers marks
                "images", num (float n)
                "steps_per_epoch", num (ceil (float n / 128.0))
                "data", str source
            ]
        | "allreduce" ->
            // Real gradients of one batch of 64 (a rank's share of the example's step), then repeated averaging.
            let reps, iters, warm = int (get "reps" "5"), int (get "iters" "50"), int (get "warm" "10")
            let bucket = int64 (get "bucket" (string (25L <<< 20)))
            let model = Model.buildSeeded 1L [ 1L; 28L; 28L ] cnn
            let ps = Tree.leaves model.Params
            (use _ = DisposeScope.Enter()
             use g = new Generator(int64 (2 + group.Rank))
             let x = Torch.Randn([| 64L; 1L; 28L; 28L |], g)
             let y = Torch.Randint(0L, 10L, [| 64L |], g)
             let pred, _ = Model.applyWith model model.Params model.State Train (Rng.seed 0L) (Value.T x)
             (Loss.crossEntropy.Compute pred (Value.T y)).Backward())
            let mutable bytes = 0L
            let step () = bytes <- group.AverageGradients(ps, bucket)
            for _ in 1..warm do
                step ()
            group.Barrier()
            let values = measure reps iters 0 1000.0 step
            group.Barrier()
            let count = ps |> List.sumBy (fun p -> p.Numel)
            Model.dispose model
            obj [ "values", numbers values; "bytes_per_step", int64n bytes; "parameters", num (float count); "bucket_bytes", int64n bucket ]
        | m -> failwithf "b7-rank: unknown mode %s (epoch or allreduce)" m
    reply["world_size"] <- num (float group.WorldSize)
    reply["threads"] <- num (float Torch.NumThreads)
    if group.Rank = 0 then
        Console.Out.WriteLine(line reply)
        Console.Out.Flush()
    0

// ---------------------------------------------------------------- running jobs

let private freePort () =
    let l = new TcpListener(IPAddress.Loopback, 0)
    l.Start()
    let p = (l.LocalEndpoint :?> IPEndPoint).Port
    l.Stop()
    p

let private jobVars = [ "RANK"; "WORLD_SIZE"; "LOCAL_RANK"; "LOCAL_WORLD_SIZE"; "MASTER_ADDR"; "MASTER_PORT" ]

/// Starts `world` ranks of (exe, args) on a fresh 127.0.0.1 port (one process without the job's variables when
/// world = 1), waits up to `timeout` for all, kills them all on the first failure or the timeout, and returns rank 0's
/// JSON reply.
let runJob (exe: string) (args: string list) (env: (string * string option) list) (world: int) (timeout: TimeSpan) : Result<JsonObject, string> =
    let port = string (freePort ())
    let outputs = Array.init world (fun _ -> Text.StringBuilder())
    let procs = [
        for r in 0 .. world - 1 ->
            let psi = ProcessStartInfo(exe, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true)
            for a in args do
                psi.ArgumentList.Add a
            applyEnv psi env
            for k in jobVars do
                psi.Environment.Remove k |> ignore
            if world > 1 then
                for k, v in [ "RANK", string r; "WORLD_SIZE", string world; "LOCAL_RANK", string r; "MASTER_ADDR", "127.0.0.1"; "MASTER_PORT", port ] do
                    psi.Environment[k] <- v
            let p =
                match Process.Start psi with
                | null -> failwithf "could not start %s" exe
                | p -> p
            let sink (e: DataReceivedEventArgs) =
                match e.Data with
                | null -> ()
                | l -> lock outputs.[r] (fun () -> outputs.[r].AppendLine l |> ignore)
            p.OutputDataReceived.Add sink
            p.ErrorDataReceived.Add sink
            p.BeginOutputReadLine()
            p.BeginErrorReadLine()
            p
    ]
    let text r = lock outputs.[r] (fun () -> outputs.[r].ToString())
    try
        let watch = Stopwatch.StartNew()
        let failed () = procs |> List.tryFindIndex (fun p -> p.HasExited && p.ExitCode <> 0)
        while watch.Elapsed < timeout && failed().IsNone && not (procs |> List.forall (fun p -> p.HasExited)) do
            Threading.Thread.Sleep 50
        match failed () with
        | Some r -> Error(sprintf "rank %d of %s exited with %d: %s" r exe procs.[r].ExitCode (text r))
        | None when not (procs |> List.forall (fun p -> p.HasExited)) ->
            Error(sprintf "%s %s did not finish within %.0f s (killed); rank 0: %s" exe (String.Join(" ", args)) timeout.TotalSeconds (text 0))
        | None ->
            for p in procs do
                p.WaitForExit() // the output readers' last lines
            let json = (text 0).Split('\n') |> Array.tryFindBack (fun l -> l.TrimStart().StartsWith "{")
            match json with
            | Some l ->
                match JsonNode.Parse l with
                | null -> Error(sprintf "rank 0 of %s replied JSON null" exe)
                | n -> Ok(n.AsObject())
            | None -> Error(sprintf "rank 0 of %s printed no result: %s" exe (text 0))
    finally
        for p in procs do
            (try
                if not p.HasExited then p.Kill true
             with _ ->
                 ())
            p.Dispose()

// ---------------------------------------------------------------- the benchmark

/// What B7 printed and measured: its result lines, results.json's "b7", the all-reduce ratio Dsl ÷ PyTorch and the
/// failures.
type Outcome = { Lines: string list; Json: JsonObject; RatioPy: float; Errors: string list }

let private best (xs: Collections.Generic.List<float>) = if xs.Count = 0 then nan else Seq.min xs

/// The q-quantile of xs (q clamped to [0, 1]; NaN for none): the engine's `Tensor.Quantile`, linear between the two
/// order statistics around the position q·(n − 1), as torch.quantile. A side's all-reduce figure is the 10th
/// percentile of one job's per-call times (250 calls, timed one by one on rank 0), the minimum over the rounds: on
/// loopback between two processes a call's time is mostly how soon the other rank's threads are scheduled (quiet
/// 2-core VM: 0.29 ms at best, median 1.2–2.4 ms, mean 2.3–2.5 ms on both sides, spread the same way), so the mean of
/// 50 calls, as before, drew a different point of that spread in each rep (1.1–3.4 ms), and a single call's
/// minimum is one lucky wake-up; the 10th percentile is the cost of a call that did not wait for the scheduler.
let quantile (q: float) (xs: float list) =
    match xs with
    | [] -> nan
    | _ ->
        use t = Torch.From(Array.ofList xs, [| int64 xs.Length |])
        use v = t.Quantile(max 0.0 (min 1.0 q))
        v.ToDouble()

let private lineOf (name: string) (dsl: float) (py: float) (unit: string) =
    let ratio = if Double.IsNaN dsl || Double.IsNaN py || py = 0.0 then nan else dsl / py
    sprintf "bench %s dsl=%s torch_py=%s cpp=n/a ratio_py=%s ratio_cpp=n/a unit=%s" name (fmt dsl) (fmt py) (fmt ratio) unit

/// Runs B7: rounds of the two epoch configurations and of the two all-reduce sides, the order alternating from round
/// to round; each figure is the minimum over all rounds (epoch seconds; ms per all-reduce step: each job's 10th
/// percentile of its per-call times). `dsl` is the command line of a
/// Dsl `b7-rank` process, `python` the interpreter, `env` the measured children's thread variables.
let measure (quick: bool) (rounds: int option) (root: string) (dsl: string * string list) (python: string) (env: (string * string option) list) (say: string -> unit) : Outcome =
    let n, epochs = if quick then 1024, 2 else 6000, 2
    // The all-reduce is timed call by call (reps calls of 1 iteration): see `quantile` above.
    let reps, iters, warm = if quick then 40, 1, 5 else 250, 1, 20
    let rounds = defaultArg rounds (if quick then 1 else 3)
    let timeout = TimeSpan.FromSeconds(if quick then 90.0 else 150.0)
    let budget = 100.0
    let errors = Collections.Generic.List<string>()
    let epochS = dict [ for c in [ "2x1"; "1x2" ] -> c, Collections.Generic.List<float>() ]
    let stepMs = dict [ for s in [ "dsl"; "torch_py" ] -> s, Collections.Generic.List<float>() ]
    let replies = Collections.Generic.Dictionary<string, JsonObject>()
    let exe, dslArgs = dsl
    // An epoch job's one value goes to its sink as it is; an all-reduce job's per-call times as their 10th percentile.
    let job (label: string) (exe: string) (args: string list) (world: int) (sink: Collections.Generic.List<float>) =
        match runJob exe args env world timeout with
        | Ok o ->
            let v = values o
            replies.[label] <- o
            match v with
            | [] ->
                errors.Add(sprintf "B7 %s: the job answered no values" label)
                say (sprintf "B7 %s answered no values" label)
            | [ one ] ->
                sink.Add one
                say (sprintf "B7 %s: %s" label (fmt one))
            | calls ->
                let p10 = quantile 0.1 calls
                sink.Add p10
                say (
                    sprintf
                        "B7 %s: %d calls, ms min=%s p10=%s median=%s p90=%s mean=%s"
                        label
                        calls.Length
                        (fmt (List.min calls))
                        (fmt p10)
                        (fmt (quantile 0.5 calls))
                        (fmt (quantile 0.9 calls))
                        (fmt (List.average calls))
                )
        | Error e ->
            errors.Add(sprintf "B7 %s: %s" label e)
            say (sprintf "B7 %s failed: %s" label e)
    let watch = Stopwatch.StartNew()
    let mutable r = 0
    while r < rounds && (r = 0 || watch.Elapsed.TotalSeconds < budget) do
        let epochJobs = [
            "2x1", (fun () -> job "epoch 2 processes x 1 thread" exe (dslArgs @ [ "mode=epoch"; sprintf "n=%d" n; sprintf "epochs=%d" epochs; "threads=1" ]) 2 epochS.["2x1"])
            "1x2", (fun () -> job "epoch 1 process x 2 threads" exe (dslArgs @ [ "mode=epoch"; sprintf "n=%d" n; sprintf "epochs=%d" epochs; "threads=2" ]) 1 epochS.["1x2"])
        ]
        let arArgs = [ sprintf "reps=%d" reps; sprintf "iters=%d" iters; sprintf "warm=%d" warm ]
        let reduceJobs = [
            "dsl", (fun () -> job "all-reduce dsl" exe (dslArgs @ "mode=allreduce" :: arArgs) 2 stepMs.["dsl"])
            "torch_py",
            (fun () ->
                let script = IO.Path.Combine(root, "bench", "torch_dist_bench.py")
                job "all-reduce torch_py" python [ script; "--reps"; string reps; "--iters"; string iters; "--warm"; string warm ] 2 stepMs.["torch_py"])
        ]
        for _, run in (if r % 2 = 0 then epochJobs @ reduceJobs else List.rev epochJobs @ List.rev reduceJobs) do
            run ()
        r <- r + 1
    let imagesPerS c = float n / best epochS.[c]
    let two, one = imagesPerS "2x1", imagesPerS "1x2"
    let dslMs, pyMs = best stepMs.["dsl"], best stepMs.["torch_py"]
    let get (label: string) (key: string) =
        match replies.TryGetValue label with
        | true, o when o.ContainsKey key ->
            match o.[key] with
            | null -> nan
            | v -> v.GetValue<float>()
        | _ -> nan
    let bytes = get "all-reduce dsl" "bytes_per_step"
    let pyBytes = get "all-reduce torch_py" "bytes_per_step"
    let steps = ceil (float n / 128.0)
    // The time of one step of the 2-process epoch, and the share of it the all-reduce (measured alone) would take.
    let step2 = best epochS.["2x1"] / steps * 1000.0
    let data =
        match replies.TryGetValue "epoch 2 processes x 1 thread" with
        | true, o when o.ContainsKey "data" -> (field o "data").GetValue<string>()
        | _ -> "?"
    let ratioPy = if Double.IsNaN dslMs || Double.IsNaN pyMs then nan else dslMs / pyMs
    let lines = [
        lineOf "B7_epoch_2proc_1thread" two nan "img/s"
        lineOf "B7_epoch_1proc_2threads" one nan "img/s"
        lineOf "B7_scaling_2x1_over_1x2" (two / one) nan "ratio"
        lineOf "B7_allreduce_step" dslMs pyMs "ms"
        sprintf
            "info B7 images=%d (%s) global_batch=128 steps_per_epoch=%s step_ms_2x1=%s bytes_per_step=%s (torch_py %s) buckets=1 bucket_cap=25MiB allreduce_share_of_step=%s%% rounds=%d"
            n
            data
            (fmt steps)
            (fmt step2)
            (fmt bytes)
            (fmt pyBytes)
            (fmt (100.0 * dslMs / step2))
            r
    ]
    let json =
        obj [
            "images", num (float n)
            "data", str data
            "epochs_per_job", num (float epochs)
            "rounds", num (float r)
            "epoch_s", obj [ for kv in epochS -> kv.Key, (numbers kv.Value :> JsonNode | null) ]
            "images_per_s", obj [ "2x1", num two; "1x2", num one ]
            "allreduce_ms", obj [ for kv in stepMs -> kv.Key, (numbers kv.Value :> JsonNode | null) ]
            "bytes_per_step", num bytes
            "request", obj [ "reps", num (float reps); "iters", num (float iters); "warm", num (float warm) ]
            "ratio_py", num ratioPy
            "replies", obj [ for kv in replies -> kv.Key, kv.Value.DeepClone() ]
        ]
    { Lines = lines; Json = json; RatioPy = ratioPy; Errors = List.ofSeq errors }
