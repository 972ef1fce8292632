/// The orchestrator's parts: building the C++ side, preparing the data, the sides as long-lived worker
/// processes, interleaved rounds (the order of the sides rotates every round, the minimum of the repeats
/// is kept), the plans and targets of B1–B9, and the report's helpers. Run.fs runs them.
module Bench.Orchestrator

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open System.Text.Json.Nodes
open Bench.Protocol

// ---------------------------------------------------------------- logging

/// Time since the harness started.
let started = Stopwatch.StartNew()

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

/// Waits until other processes leave the CPUs alone: up to `limit` seconds for a 1-second window in which they used
/// under `share` of the machine's CPU time (pids: ours). Returns the seconds waited, and the last window's share.
let waitForQuiet (pids: unit -> int list) (share: float) (limit: float) : float * float =
    let watch = Stopwatch.StartNew()
    let rec go () =
        let probe = LoadProbe pids
        Threading.Thread.Sleep 1000
        let foreign = probe.Foreign()
        if Double.IsNaN foreign || foreign < share || watch.Elapsed.TotalSeconds >= limit then watch.Elapsed.TotalSeconds, foreign else go ()
    go ()

// ---------------------------------------------------------------- workers

/// One long-lived side: a child process speaking the protocol over stdin/stdout.
type Worker(name: string, exe: string, args: string list, env: (string * string option) list, cwd: string) =
    let psi = ProcessStartInfo(exe, UseShellExecute = false, WorkingDirectory = cwd, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true)
    do
        for a in args do
            psi.ArgumentList.Add a
        applyEnv psi env
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

/// The command line's options (Program.fs): `Scaling` runs the scaling series S1–S4 instead of B1–B9
/// (unless `Only` names benchmarks; see `Scaling.isWanted`).
type Options = { Quick: bool; Only: Set<string> option; Scaling: bool; Rounds: int option; Threads: int; Build: bool; Budget: float; Out: string option }

/// How one of B1–B4 is measured: the request each side gets per round, the rounds, a time budget.
type Plan = { Id: string; Name: string; Reps: int; Iters: int; Warm: int; Rounds: int; WarmRound: bool; Budget: float; Timeout: float }

/// The plans of B1–B4, B8 and B9 (full or quick counts; `--rounds` overrides the rounds).
let plans (o: Options) =
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

/// Each benchmark's unit.
let units = dict [ "B1", "us"; "B2", "ms"; "B3", "ms"; "B4", "s"; "B8R", "ms"; "B8M", "ms"; "B9", "ms" ]

/// The targets (ratio = Dsl ÷ other; lower is better).
let ratioTargets = [ "B1", 0.70, Some 1.3; "B2", 0.80, Some 1.1; "B3", 1.00, Some 1.05; "B4", 0.80, None; "B8R", 1.00, None; "B8M", 1.00, None; "B9", 1.00, None ]

/// The benchmarks whose Dsl side must reach this share of the measured SGEMM peak (issue #19).
let peakTargets = [ "B2", 0.55; "B3", 0.55; "B4", 0.55 ]


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

let private threadVars = [ "OMP_NUM_THREADS"; "MKL_NUM_THREADS"; "DSL_NUM_THREADS"; "GOTO_NUM_THREADS"; "OPENBLAS_NUM_THREADS" ]
/// Environment of every measured child: `blas` BLAS threads, no other thread-count variables (the thread
/// count is set explicitly through each side's API instead).
let measuredEnv (blas: int) = (threadVars |> List.map (fun v -> v, None)) @ [ "OPENBLAS_NUM_THREADS", Some(string blas) ]
/// B6's default configuration: no thread-count variable at all.
let bareEnv: (string * string option) list = threadVars |> List.map (fun v -> v, None)

/// The command line of a Dsl process in `role` (worker, b7-rank) with `args`.
let dslProgram (role: string) (args: string list) =
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

/// The command that starts a Dsl worker (this program with `worker` and `args`).
let dslCommand (args: string list) = dslProgram "worker" args

/// The PyTorch side's interpreter: $BENCH_PYTHON, else /usr/bin/python3, else python3.
let pythonExe () =
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

/// a ÷ b, NaN when either is NaN or b is 0.
let ratio a b = if Double.IsNaN a || Double.IsNaN b || b = 0.0 then nan else a / b

/// A result line: every side's figure and Dsl's ratios.
let benchLine (name: string) (dsl: float) (py: float) (cpp: float) (unit: string) =
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

/// Writes `text` to `path` atomically (the engine's AtomicFile: a temporary file, then a rename), making its folder.
let writeAtomically (path: string) (text: string) =
    match Path.GetDirectoryName path with
    | null
    | "" -> ()
    | dir -> Directory.CreateDirectory dir |> ignore
    Dsl.Engine.IO.AtomicFile.WriteAllText(path, text)
