/// The orchestrator: builds the C++ side, prepares the data, starts the three sides as long-lived
/// workers with the same thread settings, runs interleaved rounds (the order of the sides rotates every
/// round), keeps the minimum of the repeats, prints one line per benchmark and the PASS/MISS of every
/// target, and writes bench/results.json atomically.
module Bench.Orchestrator

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open System.Text.Json.Nodes
open Bench.Protocol

// ---------------------------------------------------------------- logging

let private started = Stopwatch.StartNew()

/// Progress goes to stderr; stdout carries only the result lines.
let say (msg: string) =
    Console.Out.Flush()
    eprintfn "[bench %5.1fs] %s" started.Elapsed.TotalSeconds msg

// ---------------------------------------------------------------- machine load

/// (busy, total) jiffies of all CPUs since boot (/proc/stat).
let private cpuJiffies () =
    try
        let f = (IO.File.ReadLines "/proc/stat" |> Seq.head).Split(' ', StringSplitOptions.RemoveEmptyEntries) |> Array.skip 1 |> Array.map int64
        let idle = f.[3] + f.[4]
        let total = f |> Array.take (min 8 f.Length) |> Array.sum
        total - idle, total
    with _ ->
        0L, 0L

/// utime + stime of a live process in jiffies (0 when gone).
let private procJiffies (pid: int) =
    try
        let stat = IO.File.ReadAllText(sprintf "/proc/%d/stat" pid)
        let f = stat.Substring(stat.LastIndexOf ')' + 2).Split(' ')
        int64 f.[11] + int64 f.[12]
    with _ ->
        0L

/// Measures the share of the machine's CPU time used by processes other than ours over an interval.
type LoadProbe(pids: unit -> int list) =
    let ours () = pids () |> List.sumBy procJiffies
    let busy0, total0 = cpuJiffies ()
    let ours0 = ours ()
    /// Fraction (0–1) of all CPUs' time that other processes used since the probe was made.
    member _.Foreign() =
        let busy1, total1 = cpuJiffies ()
        let dt = total1 - total0
        if dt <= 0L then nan else max 0.0 (float ((busy1 - busy0) - (ours () - ours0)) / float dt)

// ---------------------------------------------------------------- workers

/// One long-lived side: a child process speaking the protocol over stdin/stdout.
type Worker(name: string, exe: string, args: string list, env: (string * string option) list, cwd: string) =
    let psi = ProcessStartInfo(exe, UseShellExecute = false, WorkingDirectory = cwd, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true)
    do
        for a in args do
            psi.ArgumentList.Add a
        for k, v in env do
            match v with
            | Some value -> psi.Environment[k] <- value
            | None -> psi.Environment.Remove k |> ignore
    let mutable proc: Process | null = null
    let mutable dead: string option = None
    let mutable ready: JsonObject | null = null

    /// The started process (Start has run and succeeded).
    let started () =
        match proc with
        | null -> invalidOp (sprintf "%s: the process is not started" name)
        | p -> p

    /// Reads the next JSON object line (other stdout lines are echoed to stderr); None on timeout or exit.
    let rec readJson (timeout: TimeSpan) : Result<JsonObject, string> =
        let proc = started ()
        let t = proc.StandardOutput.ReadLineAsync()
        if not (t.Wait timeout) then
            Error(sprintf "%s: no answer within %.0fs" name timeout.TotalSeconds)
        else
            match t.Result with
            | null ->
                Error(
                    sprintf
                        "%s exited (code %s)"
                        name
                        (try
                            string proc.ExitCode
                         with _ ->
                             "?")
                )
            | l when l.TrimStart().StartsWith "{" ->
                try
                    match JsonNode.Parse l with
                    | null -> Error(sprintf "%s: reply %s is JSON null, not an object" name l)
                    | n -> Ok(n.AsObject())
                with e ->
                    Error(sprintf "%s: unreadable reply %s (%s)" name l e.Message)
            | l ->
                eprintfn "  [%s stdout] %s" name l
                readJson timeout

    member _.Name = name
    member _.Pid =
        match proc with
        | null -> None
        | p ->
            (try
                Some p.Id
             with _ ->
                 None)
    member _.Ready = ready
    member _.Dead = dead
    member _.Alive = dead.IsNone

    /// Marks the side unavailable without starting it (e.g. its build failed).
    member _.Unavailable(reason: string) = dead <- Some reason

    /// Starts the process and waits for its ready line.
    member this.Start(timeout: TimeSpan) =
        if dead.IsNone then
            try
                let p =
                    match Process.Start psi with
                    | null -> failwith "no process was started"
                    | p -> p
                proc <- p
                p.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then eprintfn "  [%s] %s" name e.Data)
                p.BeginErrorReadLine()
                match readJson timeout with
                | Ok o when o.ContainsKey "ready" -> ready <- o
                | Ok o -> this.Kill(sprintf "%s: expected a ready line, got %s" name (o.ToJsonString()))
                | Error e -> this.Kill e
            with e ->
                dead <- Some(sprintf "%s could not start (%s %s): %s" name exe (String.Join(" ", args)) e.Message)

    /// Sends one request and returns its reply.
    member this.Request(r: Request, timeout: TimeSpan) : Result<JsonObject, string> =
        match dead with
        | Some e -> Error e
        | None ->
            try
                let proc = started ()
                proc.StandardInput.WriteLine(string r)
                proc.StandardInput.Flush()
                match readJson timeout with
                | Ok o when o.ContainsKey "error" -> Error(sprintf "%s: %s" name ((field o "error").GetValue<string>()))
                | Ok o -> Ok o
                | Error e ->
                    this.Kill e
                    Error e
            with e ->
                this.Kill(sprintf "%s: %s" name e.Message)
                Error(sprintf "%s: %s" name e.Message)

    member _.Kill(reason: string) =
        dead <- Some reason
        say (sprintf "worker %s stopped: %s" name reason)
        match proc with
        | null -> ()
        | p ->
            (try
                if not p.HasExited then p.Kill true
             with _ ->
                 ())

    interface IDisposable with
        member _.Dispose() =
            match proc with
            | null -> ()
            | proc ->
                try
                    if not proc.HasExited then
                        (try
                            proc.StandardInput.WriteLine "quit"
                            proc.StandardInput.Close()
                         with _ ->
                             ())
                        if not (proc.WaitForExit 5000) then proc.Kill true
                with _ ->
                    ()
                proc.Dispose()

// ---------------------------------------------------------------- configuration

type Options = { Quick: bool; Only: Set<string> option; Rounds: int option; Threads: int; Build: bool; Budget: float; Out: string option }

/// How one of B1–B4 is measured: the request each side gets per round, the rounds, a time budget.
type Plan = { Id: string; Name: string; Reps: int; Iters: int; Warm: int; Rounds: int; WarmRound: bool; Budget: float; Timeout: float }

let private plans (o: Options) =
    let r full quick =
        match o.Rounds with
        | Some n -> n
        | None -> if o.Quick then quick else full
    if o.Quick then
        [
            { Id = "B1"; Name = "B1_tiny_add"; Reps = 2; Iters = 2000; Warm = 200; Rounds = r 7 2; WarmRound = false; Budget = 20.0; Timeout = 60.0 }
            { Id = "B2"; Name = "B2_mlp_step"; Reps = 2; Iters = 10; Warm = 2; Rounds = r 7 2; WarmRound = false; Budget = 30.0; Timeout = 60.0 }
            { Id = "B3"; Name = "B3_cnn_step"; Reps = 1; Iters = 2; Warm = 1; Rounds = r 6 2; WarmRound = false; Budget = 60.0; Timeout = 120.0 }
            { Id = "B4"; Name = "B4_fmnist_epoch"; Reps = 1; Iters = 1; Warm = 0; Rounds = r 3 1; WarmRound = false; Budget = 120.0; Timeout = 300.0 }
            { Id = "B8R"; Name = "B8_resnet18_step"; Reps = 1; Iters = 1; Warm = 1; Rounds = r 3 1; WarmRound = false; Budget = 60.0; Timeout = 300.0 }
            { Id = "B8M"; Name = "B8_mobilenetv2_step"; Reps = 1; Iters = 1; Warm = 1; Rounds = r 3 1; WarmRound = false; Budget = 60.0; Timeout = 300.0 }
            { Id = "B9"; Name = "B9_resnet18_infer"; Reps = 1; Iters = 1; Warm = 1; Rounds = r 3 1; WarmRound = false; Budget = 60.0; Timeout = 300.0 }
        ]
    else
        [
            { Id = "B1"; Name = "B1_tiny_add"; Reps = 5; Iters = 20000; Warm = 2000; Rounds = r 7 2; WarmRound = true; Budget = 40.0; Timeout = 60.0 }
            { Id = "B2"; Name = "B2_mlp_step"; Reps = 3; Iters = 100; Warm = 10; Rounds = r 7 2; WarmRound = true; Budget = 60.0; Timeout = 120.0 }
            { Id = "B3"; Name = "B3_cnn_step"; Reps = 3; Iters = 8; Warm = 2; Rounds = r 6 2; WarmRound = true; Budget = 100.0; Timeout = 180.0 }
            { Id = "B4"; Name = "B4_fmnist_epoch"; Reps = 1; Iters = 1; Warm = 0; Rounds = r 3 1; WarmRound = true; Budget = 150.0; Timeout = 300.0 }
            // The zoo benchmarks take 0.3-3 s per iteration: few rounds, one warm-up iteration per request.
            { Id = "B8R"; Name = "B8_resnet18_step"; Reps = 2; Iters = 2; Warm = 1; Rounds = r 3 2; WarmRound = true; Budget = 90.0; Timeout = 300.0 }
            { Id = "B8M"; Name = "B8_mobilenetv2_step"; Reps = 2; Iters = 2; Warm = 1; Rounds = r 3 2; WarmRound = true; Budget = 90.0; Timeout = 300.0 }
            { Id = "B9"; Name = "B9_resnet18_infer"; Reps = 2; Iters = 1; Warm = 1; Rounds = r 3 2; WarmRound = true; Budget = 90.0; Timeout = 300.0 }
        ]

let private units = dict [ "B1", "us"; "B2", "ms"; "B3", "ms"; "B4", "s"; "B8R", "ms"; "B8M", "ms"; "B9", "ms" ]

/// The targets (ratio = Dsl ÷ other; lower is better).
let private ratioTargets = [ "B1", 0.70, Some 1.3; "B2", 0.80, Some 1.1; "B3", 1.00, Some 1.05; "B4", 0.80, None; "B8R", 1.00, None; "B8M", 1.00, None; "B9", 1.00, None ]

/// The benchmarks whose Dsl side must reach this share of the measured SGEMM peak (issue #19).
let private peakTargets = [ "B2", 0.55; "B3", 0.55; "B4", 0.55 ]

/// The ids `--only` names: B8 stands for both zoo training steps (B8R, B8M).
let private family (id: string) = if id.StartsWith "B8" then "B8" else id

// ---------------------------------------------------------------- preparation

let findRoot () =
    let rec up (d: string | null) =
        match d with
        | null -> None
        | d when File.Exists(Path.Combine(d, "bench", "torch_bench.py")) -> Some d
        | d -> up (Path.GetDirectoryName d)
    match up Environment.CurrentDirectory with
    | Some d -> d
    | None ->
        match up AppContext.BaseDirectory with
        | Some d -> d
        | None -> failwith "cannot find the repository root (a folder holding bench/torch_bench.py); run from the repository."

/// Runs a program quietly; returns (exit code, combined output).
let private exec (cwd: string) (exe: string) (args: string list) =
    let psi = ProcessStartInfo(exe, UseShellExecute = false, WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true)
    for a in args do
        psi.ArgumentList.Add a
    try
        use p =
            match Process.Start psi with
            | null -> failwith "no process was started"
            | p -> p
        let err = p.StandardError.ReadToEndAsync()
        let out = p.StandardOutput.ReadToEnd()
        p.WaitForExit()
        p.ExitCode, out + err.Result
    with e ->
        127, e.Message

/// Configures (once) and builds bench/cpp into bench/build/cpp; returns the executable or an error.
let buildCpp (root: string) (build: bool) : Result<string, string> =
    let dir = Path.Combine(root, "bench", "build", "cpp")
    let exe = Path.Combine(dir, "torch_bench_cpp")
    if not build then
        (if File.Exists exe then Ok exe else Error(sprintf "%s does not exist (built without --no-build first?)" exe))
    else
        let torchDir =
            match Environment.GetEnvironmentVariable "Torch_DIR" with
            | null
            | "" -> []
            | d -> [ "-DTorch_DIR=" + d ]
        let configured = File.Exists(Path.Combine(dir, "CMakeCache.txt"))
        let rc, out =
            if configured then
                0, ""
            else
                say "building the C++ side (cmake, find_package(Torch)) into bench/build/cpp"
                exec root "cmake" ([ "-S"; Path.Combine(root, "bench", "cpp"); "-B"; dir; "-DCMAKE_BUILD_TYPE=Release" ] @ torchDir)
        if rc <> 0 then
            Error(sprintf "cmake configure failed (exit %d):\n%s" rc out)
        else
            let rc, out = exec root "cmake" [ "--build"; dir; "-j"; string Environment.ProcessorCount ]
            if rc <> 0 then Error(sprintf "cmake --build failed (exit %d):\n%s" rc out)
            elif not (File.Exists exe) then Error(sprintf "cmake built but %s is missing" exe)
            else Ok exe

/// The raw (decompressed) Fashion-MNIST train files for the PyTorch and C++ sides, in bench/build/data.
/// (The Dsl side reads the Debian package's gzip files itself, through Dsl.Data.FashionMnist.)
let prepareData (root: string) : Result<string, string> =
    let src = Dsl.Data.FashionMnist.DefaultDirectory
    let dst = Path.Combine(root, "bench", "build", "data")
    try
        Directory.CreateDirectory dst |> ignore
        for stem in [ "train-images-idx3-ubyte"; "train-labels-idx1-ubyte" ] do
            let target = Path.Combine(dst, stem)
            if not (File.Exists target) then
                let gz, raw = Path.Combine(src, stem + ".gz"), Path.Combine(src, stem)
                let tmp = target + ".tmp"
                if File.Exists gz then
                    use input = new GZipStream(File.OpenRead gz, CompressionMode.Decompress)
                    use output = File.Create tmp
                    input.CopyTo output
                elif File.Exists raw then
                    File.Copy(raw, tmp, true)
                else
                    failwithf "%s(.gz) is not in %s (install the Debian package dataset-fashion-mnist: dotnet fsi build.fsx setup)" stem src
                File.Move(tmp, target, true)
        Ok dst
    with e ->
        Error e.Message

// ---------------------------------------------------------------- measuring

/// Environment of every measured child: one BLAS thread, no other thread-count variables (the thread
/// count is set explicitly through each side's API instead).
let private threadVars = [ "OMP_NUM_THREADS"; "MKL_NUM_THREADS"; "DSL_NUM_THREADS"; "GOTO_NUM_THREADS"; "OPENBLAS_NUM_THREADS" ]
let private measuredEnv (blas: int) = (threadVars |> List.map (fun v -> v, None)) @ [ "OPENBLAS_NUM_THREADS", Some(string blas) ]
/// B6's default configuration: no thread-count variable at all.
let private bareEnv = threadVars |> List.map (fun v -> v, None)

/// The command line of a Dsl process in `role` (worker, b7-rank) with `args`.
let private dslProgram (role: string) (args: string list) =
    let host =
        match Environment.ProcessPath with
        | null -> failwith "cannot tell which program this process runs (Environment.ProcessPath is null), so the Dsl worker cannot be started"
        | h -> h
    if Path.GetFileNameWithoutExtension host = "dotnet" then
        match Reflection.Assembly.GetEntryAssembly() with
        | null -> failwith "no entry assembly, so the Dsl worker cannot be started with dotnet"
        | entry -> host, entry.Location :: role :: args
    else
        host, role :: args

let private dslCommand (args: string list) = dslProgram "worker" args

let private pythonExe () =
    match Environment.GetEnvironmentVariable "BENCH_PYTHON" with
    | null
    | "" -> if File.Exists "/usr/bin/python3" then "/usr/bin/python3" else "python3"
    | p -> p

/// The measured values of one side in one benchmark: per round, the reps' values.
type Series() =
    member val Rounds = Collections.Generic.List<float list>()
    member val WarmUp = Collections.Generic.List<float list>()
    member val Errors = Collections.Generic.List<string>()
    member s.Min = if s.Rounds.Count = 0 then nan else s.Rounds |> Seq.collect id |> Seq.min
    member s.Json =
        obj [
            "min", num s.Min
            "rounds", JsonArray(s.Rounds |> Seq.map (fun r -> numbers r :> JsonNode) |> Array.ofSeq)
            "warm_up_round", JsonArray(s.WarmUp |> Seq.map (fun r -> numbers r :> JsonNode) |> Array.ofSeq)
            "errors", JsonArray(s.Errors |> Seq.map str |> Array.ofSeq)
        ]

let private values (o: JsonObject) =
    (field o "values").AsArray()
    |> Seq.map (fun v ->
        match v with
        | null -> nan
        | v -> v.GetValue<float>())
    |> List.ofSeq

/// Runs rounds of one request over several workers, rotating their order each round; stops early when
/// the plan's budget or the global deadline is spent (after at least one measured round).
let runRounds (deadline: unit -> bool) (label: string) (workers: (Worker * Series) list) (req: Request) (rounds: int) (warmRound: bool) (budget: float) (timeout: float) =
    let watch = Stopwatch.StartNew()
    let n = List.length workers
    let total = rounds + (if warmRound then 1 else 0)
    let mutable r = 0
    let mutable measured = 0
    while r < total && (measured = 0 || (watch.Elapsed.TotalSeconds < budget && not (deadline ()))) do
        let isWarm = warmRound && r = 0
        let order = List.init n (fun i -> workers.[(i + r) % n])
        let parts = [
            for w, s in order do
                if w.Alive then
                    match w.Request(req, TimeSpan.FromSeconds timeout) with
                    | Ok o ->
                        let v = values o
                        (if isWarm then s.WarmUp else s.Rounds).Add v
                        yield sprintf "%s=%s" w.Name (fmt (List.min v))
                    | Error e ->
                        s.Errors.Add e
                        yield sprintf "%s=error" w.Name
        ]
        say (sprintf "%s %s %d/%d: %s" label (if isWarm then "warm-up round" else "round") (if isWarm then 0 else measured + 1) rounds (String.Join(" ", parts)))
        if not isWarm then measured <- measured + 1
        r <- r + 1
    measured

// ---------------------------------------------------------------- reporting

let private ratio a b = if Double.IsNaN a || Double.IsNaN b || b = 0.0 then nan else a / b

let private benchLine (name: string) (dsl: float) (py: float) (cpp: float) (unit: string) =
    sprintf "bench %s dsl=%s torch_py=%s cpp=%s ratio_py=%s ratio_cpp=%s unit=%s" name (fmt dsl) (fmt py) (fmt cpp) (fmt (ratio dsl py)) (fmt (ratio dsl cpp)) unit

type Target = {
    Bench: string
    Metric: string
    Value: float
    Limit: float
    /// The value must reach the limit (a share of the peak) rather than stay below it (a ratio).
    AtLeast: bool
} with

    member t.Pass = not (Double.IsNaN t.Value) && (if t.AtLeast then t.Value >= t.Limit else t.Value <= t.Limit)

let private writeAtomically (path: string) (text: string) =
    match Path.GetDirectoryName path with
    | null
    | "" -> ()
    | dir -> Directory.CreateDirectory dir |> ignore
    let tmp = path + ".tmp"
    File.WriteAllText(tmp, text)
    File.Move(tmp, path, true)

// ---------------------------------------------------------------- the run

let run (o: Options) : int =
    let root = findRoot ()
    let cores = Environment.ProcessorCount
    let wanted (id: string) =
        match o.Only with
        | Some s -> s.Contains id || s.Contains(family id)
        | None -> true
    let deadline () = started.Elapsed.TotalSeconds > o.Budget
    let errors = Collections.Generic.List<string>()
    let results = JsonObject()
    let targets = Collections.Generic.List<Target>()
    let startedAt = DateTimeOffset.Now
    say (sprintf "root %s, %d cores, %d intra-op threads per side, OPENBLAS_NUM_THREADS=1, %s mode" root cores o.Threads (if o.Quick then "quick" else "full"))
    // Variables that change kernels or allocation for every side alike (children inherit them); recorded, not changed.
    let inherited =
        [
            for e in Environment.GetEnvironmentVariables() |> Seq.cast<Collections.DictionaryEntry> do
                let k = string e.Key
                if [ "OPENBLAS_"; "OMP_"; "GOMP_"; "MKL_"; "KMP_"; "DSL_"; "GLIBC_TUNABLES"; "MALLOC_"; "DOTNET_GC"; "LD_PRELOAD" ] |> List.exists k.StartsWith then
                    k, string e.Value
        ]
        |> List.sort
    if not inherited.IsEmpty then say (sprintf "inherited by every side: %s" (String.Join(" ", inherited |> List.map (fun (k, v) -> k + "=" + v))))

    let needMain = [ "B1"; "B2"; "B3"; "B4"; "B8R"; "B8M"; "B9" ] |> List.exists wanted
    let cpp = if needMain then buildCpp root o.Build else Error "not needed"
    (match cpp with
     | Error e when needMain ->
         errors.Add("cpp: " + e)
         say ("C++ side unavailable: " + e)
     | _ -> ())
    let data = if wanted "B4" then prepareData root else Error "not needed"
    (match data with
     | Error e when wanted "B4" ->
         errors.Add("data: " + e)
         say ("Fashion-MNIST unavailable: " + e)
     | _ -> ())
    let dataDir =
        match data with
        | Ok d -> d
        | Error _ -> Path.Combine(root, "bench", "build", "data")

    let startTimeout = TimeSpan.FromSeconds 180.0
    let startAll (ws: Worker list) =
        // Start concurrently: the sides' start-up costs (loading libtorch, importing torch) overlap.
        let already = ws |> List.filter (fun w -> w.Dead.IsSome)
        ws |> List.map (fun w -> Threading.Tasks.Task.Run(fun () -> w.Start startTimeout)) |> List.iter (fun t -> t.Wait())
        for w in ws do
            match w.Dead with
            | Some e -> if not (List.contains w already) then errors.Add e
            | None ->
                say (
                    sprintf
                        "%s ready: %s"
                        w.Name
                        (match w.Ready with
                         | null -> "(no ready line)"
                         | r -> r.ToJsonString())
                )

    let benchJson = JsonArray()
    let lines = Collections.Generic.List<string>()
    let emit (l: string) =
        lines.Add l
        Console.Out.WriteLine l
        Console.Out.Flush()
    let busyShares = JsonObject()
    /// The SGEMM peak of this run (GFLOP/s), measured before the benchmarks.
    let mutable peakGemm = nan
    /// Records how much CPU other processes took during a benchmark, and warns when it was enough to skew it.
    let busy (id: string) (share: float) =
        busyShares[id] <- num share
        if share > 0.05 then emit (sprintf "warn %s other processes used %.0f%% of the CPUs during this benchmark: its figures are not reliable" id (100.0 * share))

    // ---- B1–B4: the three sides, interleaved
    if needMain then
        let threadArgs = [ "--threads"; string o.Threads ]
        let dslExe, dslArgs = dslCommand threadArgs
        use dsl = new Worker("dsl", dslExe, dslArgs, measuredEnv 1, root)
        use py = new Worker("torch_py", pythonExe (), [ Path.Combine(root, "bench", "torch_bench.py") ] @ threadArgs @ [ "--data"; dataDir ], measuredEnv 1, root)
        use cppW =
            match cpp with
            | Ok exe -> new Worker("cpp", exe, threadArgs @ [ "--data"; dataDir ], measuredEnv 1, root)
            | Error e ->
                let w = new Worker("cpp", "torch_bench_cpp", [], [], root)
                w.Unavailable("cpp: not built: " + e)
                w
        startAll [ dsl; py; cppW ]
        // ---- the machine's limit, measured through the engine before the benchmarks (the other sides idle)
        let peak (bench: string) (reps: int) (iters: int) (warm: int) =
            match dsl.Request({ Bench = bench; Reps = reps; Iters = iters; Warm = warm }, TimeSpan.FromSeconds 120.0) with
            | Ok r ->
                let v = values r
                v, List.max v
            | Error e ->
                errors.Add("peak: " + e)
                [], nan
        let probe = LoadProbe(fun () -> Environment.ProcessId :: List.choose (fun (w: Worker) -> w.Pid) [ dsl; py; cppW ])
        let gemmValues, gemm = if o.Quick then peak "PEAK_GEMM" 2 1 1 else peak "PEAK_GEMM" 7 3 2
        let copyValues, copy = if o.Quick then peak "PEAK_COPY" 2 2 1 else peak "PEAK_COPY" 7 4 2
        busy "peak" (probe.Foreign())
        peakGemm <- gemm
        emit (
            sprintf
                "peak sgemm_2048=%sGFLOP/s copy_256MB=%sGB/s (best of %d and %d reps through the engine, %d threads)"
                (fmt gemm)
                (fmt copy)
                gemmValues.Length
                copyValues.Length
                o.Threads
        )
        results["peak"] <-
            obj [
                "sgemm_gflops", num gemm
                "sgemm_n", num 2048.0
                "sgemm_values", numbers gemmValues
                "copy_gbps", num copy
                "copy_bytes", num (2.0 * 4.0 * 64.0 * 1024.0 * 1024.0)
                "copy_values", numbers copyValues
                "threads", num (float o.Threads)
            ]
        results["sides"] <-
            obj [
                for w in [ dsl; py; cppW ] ->
                    w.Name,
                    (match w.Ready with
                     | null -> str (defaultArg w.Dead "not started")
                     | r -> r.DeepClone())
            ]
        for p in plans o do
            if wanted p.Id then
                let series = [ dsl, Series(); py, Series(); cppW, Series() ]
                let req = { Bench = p.Id; Reps = p.Reps; Iters = p.Iters; Warm = p.Warm }
                let probe = LoadProbe(fun () -> Environment.ProcessId :: List.choose (fun (w: Worker) -> w.Pid) [ dsl; py; cppW ])
                let measured = runRounds deadline p.Id series req p.Rounds p.WarmRound p.Budget p.Timeout
                let foreign = probe.Foreign()
                busy p.Id foreign
                let m i = (snd series.[i]).Min
                let d, y, c = m 0, m 1, m 2
                emit (benchLine p.Name d y c units[p.Id])
                for w, s in series do
                    for e in s.Errors do
                        errors.Add e
                let rp, rc = ratio d y, ratio d c
                let _, limPy, limCpp = ratioTargets |> List.find (fun (id, _, _) -> id = p.Id)
                targets.Add { Bench = p.Id; Metric = "ratio_py"; Value = rp; Limit = limPy; AtLeast = false }
                limCpp |> Option.iter (fun l -> targets.Add { Bench = p.Id; Metric = "ratio_cpp"; Value = rc; Limit = l; AtLeast = false })
                // FLOPs per iteration, achieved GFLOP/s and share of the measured peak, for every side.
                let flops = Flops.perIteration p.Id |> Option.defaultValue nan
                let gflops (t: float) = flops / (t * Flops.unitSeconds units[p.Id]) / 1e9
                let share (t: float) = gflops t / peakGemm
                let sides = [ "dsl", d; "torch_py", y; "cpp", c ]
                emit (
                    sprintf
                        "flops %s per_iter=%sGFLOP %s peak=%sGFLOP/s"
                        p.Name
                        (fmt (flops / 1e9))
                        (String.Join(" ", sides |> List.map (fun (n, t) -> sprintf "%s=%sGFLOP/s(%s%%)" n (fmt (gflops t)) (fmt (100.0 * share t)))))
                        (fmt peakGemm)
                )
                peakTargets
                |> List.tryFind (fun (id, _) -> id = p.Id)
                |> Option.iter (fun (_, l) -> targets.Add { Bench = p.Id; Metric = "peak_share"; Value = share d; Limit = l; AtLeast = true })
                benchJson.Add(
                    obj [
                        "id", str p.Id
                        "name", str p.Name
                        "unit", str units[p.Id]
                        "request", obj [ "reps", num (float p.Reps); "iters", num (float p.Iters); "warm", num (float p.Warm) ]
                        "rounds_measured", num (float measured)
                        "dsl", (snd series.[0]).Json
                        "torch_py", (snd series.[1]).Json
                        "cpp", (snd series.[2]).Json
                        "ratio_py", num rp
                        "ratio_cpp", num rc
                        "other_processes_cpu_share", num foreign
                        "flops_per_iter", num flops
                        "gflops", obj [ for n, t in sides -> n, num (gflops t) ]
                        "peak_share", obj [ for n, t in sides -> n, num (share t) ]
                    ]
                )

    // ---- B5: memory of the Dsl side over 5,000 B2 steps, in a fresh process
    if wanted "B5" then
        let steps, warm = if o.Quick then 500, 50 else 5000, 500
        let dslExe, dslArgs = dslCommand [ "--threads"; string o.Threads ]
        use w = new Worker("dsl_b5", dslExe, dslArgs, measuredEnv 1, root)
        startAll [ w ]
        let probe = LoadProbe(fun () -> Environment.ProcessId :: Option.toList w.Pid)
        let reply = w.Request({ Bench = "B5"; Reps = 1; Iters = steps; Warm = warm }, TimeSpan.FromSeconds 300.0)
        busy "B5" (probe.Foreign())
        match reply with
        | Ok r ->
            let growth = (values r).Head
            let before, after = (field r "live_before").GetValue<int64>(), (field r "live_after").GetValue<int64>()
            emit (benchLine "B5_rss_growth" growth nan nan "MB")
            emit (benchLine "B5_live_tensor_delta" (float (after - before)) nan nan "tensors")
            let f (k: string) = fmt ((field r k).GetValue<float>())
            emit (
                sprintf
                    "info B5 steps=%d warm_steps=%s (rss +%sMB during warm-up, from process start) rss_before=%sMB rss_after=%sMB gen0_gcs=%s live_before=%d live_after=%d trace_mb=[%s]"
                    steps
                    (f "warm_steps")
                    (f "warm_up_rss_growth_mb")
                    (f "rss_before_mb")
                    (f "rss_after_mb")
                    (f "gen0_collections_during_steps")
                    before
                    after
                    (String.Join(
                        " ",
                        (field r "trace_mb_every_500_steps_no_forced_gc").AsArray()
                        |> Seq.map (fun v ->
                            match v with
                            | null -> "n/a"
                            | v -> fmt (v.GetValue<float>()))
                    ))
            )
            targets.Add { Bench = "B5"; Metric = "rss_growth_mb"; Value = growth; Limit = 10.0; AtLeast = false }
            targets.Add { Bench = "B5"; Metric = "live_tensor_delta"; Value = float (after - before); Limit = 0.0; AtLeast = false }
            results["b5"] <- r.DeepClone()
        | Error e ->
            errors.Add e
            emit (benchLine "B5_rss_growth" nan nan nan "MB")
            emit (benchLine "B5_live_tensor_delta" nan nan nan "tensors")
            targets.Add { Bench = "B5"; Metric = "rss_growth_mb"; Value = nan; Limit = 10.0; AtLeast = false }
            targets.Add { Bench = "B5"; Metric = "live_tensor_delta"; Value = nan; Limit = 0.0; AtLeast = false }

    // ---- B6: B3 through Dsl with no thread settings at all vs the best settings found
    if wanted "B6" then
        let threadCounts = if cores <= 8 then [ 1..cores ] else [ yield! Seq.unfold (fun t -> if t < cores then Some(t, t * 2) else None) 1; yield cores ]
        let blasCounts = List.distinct [ 1; cores ]
        let configs = [
            for t in threadCounts do
                for b in blasCounts -> t, b
        ]
        let defaultExe, defaultArgs = dslCommand []
        let workers =
            new Worker("default", defaultExe, defaultArgs, bareEnv, root)
            :: [
                for t, b in configs ->
                    let exe, args = dslCommand [ "--threads"; string t; "--blas"; string b ]
                    new Worker(sprintf "t%d_b%d" t b, exe, args, measuredEnv b, root)
            ]
        try
            startAll workers
            let series = workers |> List.map (fun w -> w, Series())
            // Many short requests, interleaved (the order rotates every round), minimum over all: the
            // configurations see the same moments of the machine, so the figure measures the setting, not
            // which process happened to run while the machine was quiet.
            let reps, iters, warm, rounds = if o.Quick then 1, 2, 1, (defaultArg o.Rounds 1) else 1, 4, 1, (defaultArg o.Rounds 16)
            let probe = LoadProbe(fun () -> Environment.ProcessId :: List.choose (fun (w: Worker) -> w.Pid) workers)
            let measured = runRounds deadline "B6" series { Bench = "B3"; Reps = reps; Iters = iters; Warm = warm } rounds (not o.Quick) 150.0 180.0
            let foreign = probe.Foreign()
            busy "B6" foreign
            for _, s in series do
                for e in s.Errors do
                    errors.Add e
            let defaultMs = (snd series.Head).Min
            let bestW, bestS = series.Tail |> List.minBy (fun (_, s) -> if Double.IsNaN s.Min then infinity else s.Min)
            let r = ratio defaultMs bestS.Min
            emit (benchLine "B6_default_over_best" r nan nan "ratio")
            let defaultThreads =
                match (fst series.Head).Ready with
                | null -> "?"
                | r -> (field r "threads").ToJsonString() + "/" + (field r "blas_threads").ToJsonString()
            emit (
                sprintf
                    "info B6 default=%sms (threads/blas %s) best=%sms (%s) configs: %s"
                    (fmt defaultMs)
                    defaultThreads
                    (fmt bestS.Min)
                    bestW.Name
                    (String.Join(" ", series.Tail |> List.map (fun (w, s) -> sprintf "%s=%s" w.Name (fmt s.Min))))
            )
            targets.Add { Bench = "B6"; Metric = "default_over_best"; Value = r; Limit = 1.05; AtLeast = false }
            results["b6"] <-
                obj [
                    "bench", str "B3"
                    "unit", str "ms"
                    "rounds_measured", num (float measured)
                    "default", (snd series.Head).Json
                    "default_ready",
                    (match (fst series.Head).Ready with
                     | null -> null
                     | r -> r.DeepClone())
                    "configs", obj [ for w, s in series.Tail -> w.Name, (s.Json :> JsonNode | null) ]
                    "best", str bestW.Name
                    "default_over_best", num r
                    "other_processes_cpu_share", num foreign
                ]
        finally
            for w in workers do
                (w :> IDisposable).Dispose()

    // ---- B7: data-parallel training, every rank a fresh process on 127.0.0.1 (DistBench.fs)
    if wanted "B7" then
        let b7 = DistBench.measure o.Quick o.Rounds root (dslProgram "b7-rank" []) (pythonExe ()) (measuredEnv 1) say
        for l in b7.Lines do
            emit l
        targets.Add { Bench = "B7"; Metric = "ratio_py"; Value = b7.RatioPy; Limit = 1.0; AtLeast = false }
        errors.AddRange b7.Errors
        results["b7"] <- b7.Json

    // ---- targets and results
    emit "targets (ratio = Dsl / other, lower is better; peak_share = Dsl's GFLOP/s / the SGEMM peak, higher is better):"
    for t in targets do
        emit (sprintf "target %s %s=%s %s=%s %s" t.Bench t.Metric (fmt t.Value) (if t.AtLeast then "min" else "limit") (fmt t.Limit) (if t.Pass then "PASS" else "MISS"))
    for e in errors do
        say ("error: " + e)
    results["schema"] <- str "dsl-bench/1"
    results["started"] <- str (startedAt.ToString "o")
    results["elapsed_s"] <- num started.Elapsed.TotalSeconds
    results["machine"] <-
        obj [
            "cores", num (float cores)
            "os", str Runtime.InteropServices.RuntimeInformation.OSDescription
            "dotnet", str (Environment.Version.ToString())
            "environment", obj [ for k, v in inherited -> k, str v ]
        ]
    results["settings"] <-
        obj [ "mode", str (if o.Quick then "quick" else "full"); "intra_op_threads", num (float o.Threads); "OPENBLAS_NUM_THREADS", str "1"; "budget_s", num o.Budget ]
    results["benchmarks"] <- benchJson
    results["other_processes_cpu_share"] <- busyShares
    results["lines"] <- JsonArray(lines |> Seq.map str |> Array.ofSeq)
    results["targets"] <-
        JsonArray(
            [|
                for t in targets ->
                    obj [ "bench", str t.Bench; "metric", str t.Metric; "value", num t.Value; "limit", num t.Limit; "at_least", boolean t.AtLeast; "pass", boolean t.Pass ]
                    :> JsonNode
            |]
        )
    results["errors"] <- JsonArray(errors |> Seq.map str |> Array.ofSeq)
    let out = defaultArg o.Out (Path.Combine(root, "bench", "results.json"))
    let text = results.ToJsonString(Text.Json.JsonSerializerOptions(WriteIndented = true))
    writeAtomically out text
    say (sprintf "wrote %s (%.0fs in all)" out started.Elapsed.TotalSeconds)
    if errors.Count = 0 then 0 else 1
