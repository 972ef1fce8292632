// Dsl's one entry point:  dotnet fsi build.fsx <target> [args]   (several targets run in order)
// Needs only the .NET SDK: no NuGet references, so it runs offline. See `dotnet fsi build.fsx help`.

open System
open System.Diagnostics
open System.IO
open System.Xml.Linq

let root = __SOURCE_DIRECTORY__
let userDir = Environment.CurrentDirectory

let usage () =
    printfn
        """usage: dotnet fsi build.fsx <target> [args] [<target> [args] ...]

targets (run in the order given):
  setup            install missing prerequisites through apt (libtorch-dev, cmake, g++, OpenBLAS,
                   Fashion-MNIST, DejaVu fonts, Chromium, python3-torch/-torchvision/-numpy/-pil/-h5py); sudo when not root
  build            setup, then dotnet build Dsl.sln -c Release (also builds the native shim with CMake)
  check            setup, dotnet tool restore, then every check: F# formatting (dotnet fantomas --check .),
                   C# formatting (dotnet format whitespace --folder, dotnet format style Dsl.sln; both
                   --verify-no-changes) and the fixtures (tests/fixtures regenerated with /usr/bin/python3
                   into a temporary folder: JSON floats equal within 1e-5 relative, other JSON values
                   exactly, images byte for byte); prints what each checked, fails naming what failed
  test [args]      setup, then dotnet test Dsl.sln (the NUnit tests; TRX in artifacts/test-results),
                   then each Expecto program tests/*/*.fsproj with dotnet run (JUnit summaries there too);
                   args go to dotnet test (e.g. --filter Name~Smoke); of them only a name filter
                   (Name~X, FullyQualifiedName~X, DisplayName~X or X) reaches the Expecto programs, as
                   --filter-test-case X (test names containing X; any other filter skips them), and
                   -c/--configuration; last line: "N passed, M failed" over every project
  demo [args]      build, then run examples/demo.fsx (a CNN on Fashion-MNIST; args go to the script)
  bench [args]     setup, then run bench/Bench (args go to the benchmark)
  run <script.fsx> [args]
                   build, then dotnet fsi <script.fsx> [args] (everything after the script goes to it)
  launch --nproc N [--nnodes M --node-rank R --master ADDR:PORT] <script.fsx | program.dll> [args]
                   starts N processes of a data-parallel job with torchrun's RANK, WORLD_SIZE, LOCAL_RANK,
                   MASTER_ADDR, MASTER_PORT; output prefixed by rank; the first failure stops the others
                   and is the exit code (does not build: give `build launch ...` for that)
  trx-summary <dir>
                   print the "N passed, M failed" line for the .trx files under dir
  clean            remove bin/, obj/ (including the native build in src/Core.CSharp/Engine/obj/native) and artifacts/
  help             show this text

Arguments after demo/test/bench that are not target names go to that target; after `-- --`
everything goes to it. Environment: LIBTORCH_DIR or Torch_DIR select another libtorch (run
`clean` first when switching); DSL_NUM_THREADS / OMP_NUM_THREADS / OPENBLAS_NUM_THREADS set thread counts."""

/// Raised to stop with a message and an exit code.
exception Fail of code: int * message: string

let fail code msg = raise (Fail(code, msg))

let say (msg: string) =
    Console.Out.Flush()
    printfn "[build] %s" msg
    Console.Out.Flush()

let quote (a: string) =
    if a <> "" && a |> Seq.forall (fun c -> Char.IsLetterOrDigit c || "-_./=:,+@%~".Contains c) then a else "'" + a.Replace("'", "'\\''") + "'"

/// Runs a program with inherited stdin/stdout/stderr (output streams live); returns its exit code.
let run (exe: string) (args: string list) : int =
    say (String.Join(" ", exe :: args |> List.map quote))
    let psi = ProcessStartInfo(exe, UseShellExecute = false, WorkingDirectory = root)
    for a in args do
        psi.ArgumentList.Add a
    Console.Out.Flush()
    Console.Error.Flush()
    use p =
        try
            Process.Start psi
        with e ->
            fail 127 (sprintf "could not start %s: %s" exe e.Message)
    p.WaitForExit()
    p.ExitCode

/// Runs a program and fails with a clear message when it exits non-zero.
let runOrFail (what: string) exe args =
    let rc = run exe args
    if rc <> 0 then fail rc (sprintf "%s failed (exit code %d)" what rc)

/// Runs a program capturing stdout (stderr discarded); returns exit code and stdout.
let capture (exe: string) (args: string list) : int * string =
    let psi = ProcessStartInfo(exe, UseShellExecute = false, WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true)
    for a in args do
        psi.ArgumentList.Add a
    try
        use p = Process.Start psi
        let err = p.StandardError.ReadToEndAsync()
        let out = p.StandardOutput.ReadToEnd()
        p.WaitForExit()
        err.Wait()
        p.ExitCode, out
    with _ ->
        127, ""

// ---------------------------------------------------------------- setup

let prerequisites = [
    "libtorch-dev"
    "libgloo-dev"
    "libopenblas0-pthread"
    "cmake"
    "g++"
    "dataset-fashion-mnist"
    "fonts-dejavu-core"
    "chromium"
    "python3-torch"
    "python3-torchvision"
    "python3-numpy"
    "python3-pil"
    "python3-h5py"
]

let isInstalled (pkg: string) =
    let rc, out = capture "dpkg-query" [ "-W"; "-f=${Status}"; pkg ]
    rc = 0 && out.Trim() = "install ok installed"

let mutable setupDone = false

let setup () =
    if not setupDone then
        if not (OperatingSystem.IsLinux()) then fail 1 "setup supports Debian/Ubuntu (apt) only."
        if fst (capture "dpkg-query" [ "--version" ]) <> 0 then
            fail 1 ("setup needs dpkg-query and apt-get (Debian 12 or similar); install the prerequisites by hand: " + String.Join(" ", prerequisites))
        match prerequisites |> List.filter (isInstalled >> not) with
        | [] -> say "setup: all prerequisites are installed; nothing to do."
        | missing ->
            say (sprintf "setup: missing %s; installing with apt-get." (String.Join(", ", missing)))
            let uid = (snd (capture "id" [ "-u" ])).Trim()
            let asRoot (args: string list) =
                // `env` carries DEBIAN_FRONTEND through sudo whatever its env_reset policy is.
                let cmd = "env" :: "DEBIAN_FRONTEND=noninteractive" :: args
                if uid = "0" then cmd
                elif fst (capture "sh" [ "-c"; "command -v sudo" ]) = 0 then "sudo" :: cmd
                else fail 1 (sprintf "setup must install %s but is not running as root and sudo is not available; run it as root." (String.Join(" ", missing)))
            let apt what args =
                match asRoot args with
                | exe :: rest -> runOrFail what exe rest
                | [] -> ()
            apt "apt-get update" [ "apt-get"; "update" ]
            apt "apt-get install" ([ "apt-get"; "install"; "-y"; "--no-install-recommends" ] @ missing)
            match missing |> List.filter (isInstalled >> not) with
            | [] -> say (sprintf "setup: installed %s." (String.Join(", ", missing)))
            | still -> fail 1 (sprintf "setup: apt-get finished but these are still not installed: %s" (String.Join(", ", still)))
        setupDone <- true

// ---------------------------------------------------------------- build / run / demo / bench

let mutable buildDone = false

let build () =
    setup ()
    if not buildDone then
        for v in [ "LIBTORCH_DIR"; "Torch_DIR" ] do
            match Environment.GetEnvironmentVariable v with
            | null
            | "" -> ()
            | value -> say (sprintf "%s=%s (libtorch selected by the environment)" v value)
        runOrFail "dotnet build" "dotnet" [ "build"; "Dsl.sln"; "-c"; "Release" ]
        buildDone <- true

let runScript (args: string list) =
    match args with
    | [] -> fail 2 "run needs a script: dotnet fsi build.fsx run <script.fsx> [args]"
    | script :: rest ->
        let path = Path.GetFullPath(script, userDir)
        if not (File.Exists path) then fail 2 (sprintf "run: script %s not found" path)
        build ()
        runOrFail (sprintf "dotnet fsi %s" script) "dotnet" ("fsi" :: path :: rest)

let runProject (name: string) (project: string) (missing: string) (args: string list) =
    setup ()
    if not (File.Exists(Path.Combine(root, project))) then fail 1 missing
    let extra = if List.isEmpty args then [] else "--" :: args
    runOrFail name "dotnet" ([ "run"; "--project"; project; "-c"; "Release" ] @ extra)

let demo args = runScript (Path.Combine(root, "examples", "demo.fsx") :: args)

let bench args =
    runProject "bench" "bench/Bench/Bench.fsproj" "bench: no benchmark project exists yet (expected bench/Bench/Bench.fsproj)." args

// ---------------------------------------------------------------- test

type Counts = { Passed: int; Failed: int; Skipped: int }

/// Counts results in one TRX file from its UnitTestResult outcomes; the ResultSummary counters fill in
/// when there are no results, and a failure the counters record is never dropped.
let parseTrx (file: string) : Counts =
    let doc = XDocument.Load file
    let local (n: string) = doc.Descendants() |> Seq.filter (fun e -> e.Name.LocalName = n)
    let counters =
        match local "Counters" |> Seq.tryHead with
        | None -> { Passed = 0; Failed = 0; Skipped = 0 }
        | Some c ->
            let n (a: string) =
                match c.Attribute(XName.Get a) with
                | null -> 0
                | x ->
                    (match Int32.TryParse x.Value with
                     | true, v -> v
                     | _ -> 0)
            {
                Passed = n "passed" + n "passedButRunAborted"
                Failed = n "failed" + n "error" + n "timeout" + n "aborted"
                Skipped = n "notExecuted" + n "inconclusive" + n "notRunnable"
            }
    let results = local "UnitTestResult" |> Seq.filter (fun e -> e.Parent <> null && e.Parent.Name.LocalName = "Results") |> Seq.toList
    if results.IsEmpty then
        counters
    else
        let outcome (e: XElement) =
            match e.Attribute(XName.Get "outcome") with
            | null -> ""
            | a -> a.Value
        let count pred = results |> List.filter (outcome >> pred) |> List.length
        {
            Passed = count (fun o -> o = "Passed" || o = "PassedButRunAborted")
            Failed = max counters.Failed (count (fun o -> o = "Failed" || o = "Error" || o = "Timeout" || o = "Aborted"))
            Skipped = count (fun o -> o = "NotExecuted" || o = "Inconclusive" || o = "NotRunnable" || o = "Pending" || o = "Disconnected" || o = "Warning")
        }

/// Sums the counts of every TRX file under dir; also returns the files that could not be read.
let summarize (dir: string) : Counts * string list =
    let files = if Directory.Exists dir then Directory.GetFiles(dir, "*.trx", SearchOption.AllDirectories) else [||]
    let zero = { Passed = 0; Failed = 0; Skipped = 0 }
    files
    |> Array.fold
        (fun (a, bad) f ->
            try
                let c = parseTrx f
                { Passed = a.Passed + c.Passed; Failed = a.Failed + c.Failed; Skipped = a.Skipped + c.Skipped }, bad
            with e ->
                a, bad @ [ sprintf "could not read %s: %s" f e.Message ])
        (zero, [])

let summaryLine (c: Counts) = sprintf "%d passed, %d failed" c.Passed c.Failed + (if c.Skipped > 0 then sprintf ", %d skipped" c.Skipped else "")

/// Prints the summary as the last line and returns the exit code: non-zero when dotnet test failed
/// (`testExit`), another runner failed (`runnerProblems`), a test failed, or no test ran.
let reportAll (testExit: int) (runnerProblems: string list) (c: Counts, unreadable: string list) =
    let problems = [
        yield! unreadable
        if testExit <> 0 then sprintf "dotnet test exited with code %d" testExit
        yield! runnerProblems
        if c.Failed > 0 then sprintf "%d test(s) failed" c.Failed
        if c.Passed + c.Failed = 0 then "no tests ran"
    ]
    Console.Out.Flush()
    for p in problems do
        eprintfn "[build] FAILED: %s" p
    Console.Error.Flush()
    printfn "%s" (summaryLine c)
    Console.Out.Flush()
    if problems.IsEmpty then 0
    elif testExit <> 0 then testExit
    else 1

/// Prints the summary of TRX results as the last line and returns the exit code.
let report (testExit: int) (results: Counts * string list) = reportAll testExit [] results

// The F# test projects are Expecto programs (OutputType Exe and IsTestProject false, so `dotnet test`
// skips them): each runs with `dotnet run` and writes a JUnit summary, counted with the TRX results.

/// The Expecto test programs: every tests/*/*.fsproj that references Expecto.
let expectoProjects () : string list =
    let dir = Path.Combine(root, "tests")
    if not (Directory.Exists dir) then
        []
    else
        Directory.GetDirectories dir
        |> Array.collect (fun d -> Directory.GetFiles(d, "*.fsproj"))
        |> Array.filter (fun f -> File.ReadAllText(f).Contains "Include=\"Expecto\"")
        |> Array.map (fun f -> Path.GetRelativePath(root, f))
        |> Array.sort
        |> List.ofArray

/// The value of `--filter X` / `--filter=X` among dotnet test's arguments.
let filterArg (args: string list) : string option =
    let rec find (xs: string list) =
        match xs with
        | "--filter" :: v :: _ -> Some v
        | x :: _ when x.StartsWith "--filter=" -> Some(x.Substring "--filter=".Length)
        | _ :: rest -> find rest
        | [] -> None
    find args

/// Expecto's arguments for dotnet test's --filter: none without a filter; `Name~X`, `FullyQualifiedName~X`,
/// `DisplayName~X` or a bare `X` (which dotnet test reads as FullyQualifiedName~X) select the test cases
/// whose name contains X (`--filter-test-case X`); any other filter has no Expecto equivalent (Error).
let expectoFilter (args: string list) : Result<string list, string> =
    match filterArg args with
    | None -> Ok []
    | Some f ->
        let m = Text.RegularExpressions.Regex.Match(f, @"^(?:(?:Name|FullyQualifiedName|DisplayName)~)?([^|&!()=~]+)$")
        if m.Success then Ok [ "--filter-test-case"; m.Groups.[1].Value ] else Error f

/// The configuration given to dotnet test (`-c X` / `--configuration X`), for `dotnet run`.
let configurationArg (args: string list) : string list =
    let rec find (xs: string list) =
        match xs with
        | ("-c" | "--configuration") :: v :: _ -> [ "-c"; v ]
        | _ :: rest -> find rest
        | [] -> []
    find args

/// Runs a program with stdout and stderr redirected and forwarded line by line as they come (so the
/// child's output is redirected, as a test host's is under dotnet test), dropping the lines `keep` rejects;
/// returns its exit code.
let runFiltered (keep: string -> bool) (exe: string) (args: string list) : int =
    say (String.Join(" ", exe :: args |> List.map quote))
    let psi = ProcessStartInfo(exe, UseShellExecute = false, WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true)
    for a in args do
        psi.ArgumentList.Add a
    Console.Out.Flush()
    Console.Error.Flush()
    use p = new Process(StartInfo = psi)
    let gate = obj ()
    let forward (w: TextWriter) (line: string) =
        if not (isNull line) && keep line then
            lock gate (fun () ->
                w.WriteLine line
                w.Flush())
    p.OutputDataReceived.Add(fun e -> forward Console.Out e.Data)
    p.ErrorDataReceived.Add(fun e -> forward Console.Error e.Data)
    (try
        p.Start() |> ignore
     with e ->
         fail 127 (sprintf "could not start %s: %s" exe e.Message))
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()
    p.WaitForExit()
    p.ExitCode

/// Runs a program with its output redirected and forwarded line by line; returns its exit code.
let runForwarded (exe: string) (args: string list) : int = runFiltered (fun _ -> true) exe args

/// Counts one JUnit summary written by Expecto: a testcase with <failure> or <error> failed, one with
/// <skipped> was skipped, any other passed.
let parseJUnit (file: string) : Counts =
    let doc = XDocument.Load file
    let cases = doc.Descendants() |> Seq.filter (fun e -> e.Name.LocalName = "testcase") |> Seq.toList
    let has (n: string) (e: XElement) = e.Elements() |> Seq.exists (fun c -> c.Name.LocalName = n)
    let failed = cases |> List.filter (fun e -> has "failure" e || has "error" e) |> List.length
    let skipped = cases |> List.filter (fun e -> not (has "failure" e || has "error" e) && has "skipped" e) |> List.length
    { Passed = cases.Length - failed - skipped; Failed = failed; Skipped = skipped }

/// Runs one Expecto program (in sequence, with `expectoArgs`), its JUnit summary going to `results`;
/// returns its counts and, when the runner failed (no summary, or a non-zero exit code with no failed
/// test), the problem.
let runExpecto (results: string) (configuration: string list) (expectoArgs: string list) (project: string) : Counts * string option =
    let name = Path.GetFileNameWithoutExtension project
    let junit = Path.Combine(results, name + ".junit.xml")
    let colours = if Console.IsOutputRedirected then [ "--colours"; "0" ] else []
    let rc = runForwarded "dotnet" ([ "run"; "--project"; project ] @ configuration @ [ "--"; "--sequenced"; "--no-spinner"; "--junit-summary"; junit ] @ colours @ expectoArgs)
    let zero = { Passed = 0; Failed = 0; Skipped = 0 }
    if not (File.Exists junit) then
        zero, Some(sprintf "%s exited with code %d and wrote no summary (%s)" name rc junit)
    else
        match
            (try
                Ok(parseJUnit junit)
             with e ->
                 Error e.Message)
        with
        | Error msg -> zero, Some(sprintf "could not read %s: %s" junit msg)
        | Ok c ->
            say (sprintf "%s: %s" name (summaryLine c))
            c, (if rc <> 0 && c.Failed = 0 then Some(sprintf "%s exited with code %d" name rc) else None)

/// `test [args]`: dotnet test Dsl.sln with args (the NUnit projects, TRX results), then every Expecto
/// program (dotnet run, JUnit summaries) with the mapped --filter; ends with one summary line for all.
let test (args: string list) =
    setup ()
    let results = Path.Combine(root, "artifacts", "test-results")
    if Directory.Exists results then Directory.Delete(results, true)
    Directory.CreateDirectory results |> ignore
    let rc = run "dotnet" ([ "test"; "Dsl.sln"; "--logger"; "trx"; "--results-directory"; results ] @ args)
    let trx, unreadable = summarize results
    let expecto, problems =
        match expectoFilter args with
        | Error f ->
            say (sprintf "--filter %s has no Expecto equivalent (only a name filter, Name~X, maps to --filter-test-case X); the Expecto programs are not run." f)
            [], []
        | Ok expectoArgs ->
            let runs = expectoProjects () |> List.map (runExpecto results (configurationArg args) expectoArgs)
            List.map fst runs, List.choose snd runs
    say (sprintf "dotnet test (TRX): %s" (summaryLine trx))
    let total = expecto |> List.fold (fun a c -> { Passed = a.Passed + c.Passed; Failed = a.Failed + c.Failed; Skipped = a.Skipped + c.Skipped }) trx
    let code = reportAll rc problems (total, unreadable)
    if code <> 0 then raise (Fail(code, ""))

/// `dotnet fsi build.fsx trx-summary <dir>`: prints the summary of the TRX files under dir (used to check the parser).
let trxSummary (args: string list) =
    match args with
    | [ dir ] ->
        let code = report 0 (summarize (Path.GetFullPath(dir, userDir)))
        if code <> 0 then raise (Fail(code, ""))
    | _ -> fail 2 "trx-summary needs one directory"

// ---------------------------------------------------------------- check

/// How a regenerated fixture float may differ from the committed one: |a - b| <= tolerance · max(1, |a|, |b|).
/// The engine tests compare the engine with these fixtures at 1e-5 (float32); regenerating on another CPU
/// moves only the last bits of some results (here: conv outputs and gradients by up to 2.4e-6, 7e-7 relative),
/// while a changed case, seed or op moves them by far more than 1e-5.
let fixtureTolerance = 1e-5

/// What comparing the committed and regenerated fixtures found.
type FixtureReport = {
    mutable Files: int
    mutable Cases: int
    mutable Floats: int
    mutable Others: int
    mutable Moved: int
    mutable MaxRel: float
    mutable MaxWhere: string
    Problems: ResizeArray<string>
}

/// The kind of a JSON value; a number is a float when its text has a '.' or an exponent, as Python's json
/// writes floats (integers are shapes, indices and int64 data).
let jsonKind (e: Text.Json.JsonElement) =
    match e.ValueKind with
    | Text.Json.JsonValueKind.Number -> if e.GetRawText().IndexOfAny([| '.'; 'e'; 'E' |]) >= 0 then "float" else "integer"
    | Text.Json.JsonValueKind.True
    | Text.Json.JsonValueKind.False -> "boolean"
    | k -> (string k).ToLowerInvariant()

/// Compares two JSON values: objects key by key (same keys in the same order), arrays element by element,
/// floats within `fixtureTolerance`, everything else (strings, integers, booleans, null) exactly. Problems
/// name the file, the case (the "name" of the enclosing top-level case object) and the path in it.
let rec compareJson (r: FixtureReport) (file: string) (case: string) (path: string) (a: Text.Json.JsonElement) (b: Text.Json.JsonElement) =
    let where () =
        sprintf "%s: %s%s" file (if case = "" then "" else sprintf "case %s, " case) (if path = "" then "(top level)" else path)
    let problem (msg: string) = r.Problems.Add(sprintf "%s: %s" (where ()) msg)
    match jsonKind a, jsonKind b with
    | ka, kb when ka <> kb -> problem (sprintf "committed %s %s, regenerated %s %s" ka (a.GetRawText()) kb (b.GetRawText()))
    | "object", _ ->
        let keys (e: Text.Json.JsonElement) = [ for p in e.EnumerateObject() -> p.Name ]
        let ka, kb = keys a, keys b
        if ka <> kb then
            problem (sprintf "committed keys [%s], regenerated keys [%s]" (String.Join(", ", ka)) (String.Join(", ", kb)))
        else
            // An object with a "name" in a top-level list is a case: paths inside it start from the case.
            let case, path =
                match a.TryGetProperty "name" with
                | true, n when case = "" && n.ValueKind = Text.Json.JsonValueKind.String ->
                    r.Cases <- r.Cases + 1
                    (match n.GetString() with
                     | null -> ""
                     | s -> s),
                    ""
                | _ -> case, path
            for k in ka do
                compareJson r file case (if path = "" then k else path + "." + k) (a.GetProperty k) (b.GetProperty k)
    | "array", _ ->
        let la, lb = a.GetArrayLength(), b.GetArrayLength()
        if la <> lb then
            problem (sprintf "committed %d elements, regenerated %d" la lb)
        else
            for i in 0 .. la - 1 do
                compareJson r file case (sprintf "%s[%d]" path i) a.[i] b.[i]
    | "float", _ ->
        r.Floats <- r.Floats + 1
        let x, y = a.GetDouble(), b.GetDouble()
        if x <> y then
            r.Moved <- r.Moved + 1
            let scale = max 1.0 (max (abs x) (abs y))
            let rel = abs (x - y) / scale
            if rel > r.MaxRel then
                r.MaxRel <- rel
                r.MaxWhere <- where ()
            if rel > fixtureTolerance then
                problem (sprintf "committed %s, regenerated %s (|difference| %.3g > %.3g allowed)" (a.GetRawText()) (b.GetRawText()) (abs (x - y)) (fixtureTolerance * scale))
    | _ ->
        r.Others <- r.Others + 1
        if a.GetRawText() <> b.GetRawText() then problem (sprintf "committed %s, regenerated %s" (a.GetRawText()) (b.GetRawText()))

/// Runs a program capturing stdout and stderr together; returns its exit code and its output.
let captureAll (exe: string) (args: string list) : int * string =
    let psi = ProcessStartInfo(exe, UseShellExecute = false, WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true)
    for a in args do
        psi.ArgumentList.Add a
    try
        use p = Process.Start psi
        let err = p.StandardError.ReadToEndAsync()
        let out = p.StandardOutput.ReadToEnd()
        p.WaitForExit()
        p.ExitCode, out + err.Result
    with e ->
        127, sprintf "could not start %s: %s" exe e.Message

/// The fixture check: regenerates tests/fixtures with Debian's python into a temporary folder and compares
/// the result with the committed files (JSON numerically, images byte for byte). Returns what it checked,
/// or the problems.
let checkFixtures () : Result<string, string list> =
    let python = "/usr/bin/python3"
    let fixtures = Path.Combine(root, "tests", "fixtures")
    if not (File.Exists python) then
        Error [ sprintf "%s is missing; `dotnet fsi build.fsx setup` installs python3-torch, python3-numpy and python3-pil" python ]
    else
        let tmp = Path.Combine(Path.GetTempPath(), sprintf "dsl-fixtures-%d-%s" Environment.ProcessId (Guid.NewGuid().ToString("N").Substring(0, 8)))
        Directory.CreateDirectory tmp |> ignore
        try
            let scripts = [
                "make_fixtures.py", tmp
                "make_optim_fixtures.py", tmp
                "make_clock_fixtures.py", tmp
                "make_lbfgs_fixtures.py", tmp
                "make_format_fixtures.py", tmp
                "make_data_fixtures.py", Path.Combine(tmp, "data")
                "make_zoo_fixtures.py", Path.Combine(tmp, "zoo")
                "make_weights_fixtures.py", tmp
                "make_ddp_fixtures.py", tmp
                "make_imagenet_classes.py", Path.Combine(tmp, "imagenet_classes.txt")
            ]
            let failed =
                scripts
                |> List.choose (fun (script, out) ->
                    say (sprintf "check: %s tests/fixtures/%s --out %s" python script out)
                    let rc, text = captureAll python [ Path.Combine(fixtures, script); "--out"; out ]
                    if rc = 0 then None else Some(sprintf "%s exited with code %d:\n%s" script rc (text.TrimEnd())))
            if not failed.IsEmpty then
                Error failed
            else
                let r = { Files = 0; Cases = 0; Floats = 0; Others = 0; Moved = 0; MaxRel = 0.0; MaxWhere = ""; Problems = ResizeArray() }
                let names (dir: string) (pattern: string) =
                    if Directory.Exists dir then Directory.GetFiles(dir, pattern) |> Array.choose (fun f -> Option.ofObj (Path.GetFileName f)) |> Set.ofArray else Set.empty
                // The files both sides have (tests/fixtures/<sub>/<name>); a file on one side only is a problem.
                let pairs (sub: string) (pattern: string) =
                    let committed, regenerated = names (Path.Combine(fixtures, sub)) pattern, names (Path.Combine(tmp, sub)) pattern
                    for f in committed - regenerated do
                        r.Problems.Add(sprintf "tests/fixtures/%s: committed, but no script regenerates it" (Path.Combine(sub, f)))
                    for f in regenerated - committed do
                        r.Problems.Add(sprintf "tests/fixtures/%s: regenerated, but not committed" (Path.Combine(sub, f)))
                    Set.intersect committed regenerated |> Set.toList |> List.map (fun f -> Path.Combine(sub, f))
                for f in pairs "" "*.json" do
                    r.Files <- r.Files + 1
                    let shown = "tests/fixtures/" + f
                    try
                        use a = Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(fixtures, f)))
                        use b = Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(tmp, f)))
                        compareJson r shown "" "" a.RootElement b.RootElement
                    with e ->
                        r.Problems.Add(sprintf "%s: could not compare: %s" shown e.Message)
                let binaries = pairs "data" "*" @ pairs "weights" "*"
                // the class names are a resource of Dsl.Data, written from torchvision by a fixture script
                let classes = Path.Combine(root, "src", "Core.CSharp", "Data", "Resources", "imagenet_classes.txt")
                if File.ReadAllText classes <> File.ReadAllText(Path.Combine(tmp, "imagenet_classes.txt")) then
                    r.Problems.Add "src/Core.CSharp/Data/Resources/imagenet_classes.txt: differs from what make_imagenet_classes.py writes"
                for f in binaries do
                    let a, b = File.ReadAllBytes(Path.Combine(fixtures, f)), File.ReadAllBytes(Path.Combine(tmp, f))
                    if a.Length <> b.Length then
                        r.Problems.Add(sprintf "tests/fixtures/%s: committed %d bytes, regenerated %d bytes" f a.Length b.Length)
                    else
                        match Seq.zip a b |> Seq.tryFindIndex (fun (x, y) -> x <> y) with
                        | Some i -> r.Problems.Add(sprintf "tests/fixtures/%s: differs from byte %d on (committed 0x%02x, regenerated 0x%02x)" f i a.[i] b.[i])
                        | None -> ()
                // Safetensors (the zoo's weights and outputs): the same header (names, shapes, offsets), float32 values within the tolerance.
                let tensorFiles = pairs "zoo" "*.safetensors"
                for f in tensorFiles do
                    let a, b = File.ReadAllBytes(Path.Combine(fixtures, f)), File.ReadAllBytes(Path.Combine(tmp, f))
                    let headerOf (bytes: byte[]) = int (BitConverter.ToUInt64(bytes, 0))
                    let ha, hb = headerOf a, headerOf b
                    if a.Length <> b.Length || ha <> hb || Text.Encoding.UTF8.GetString(a, 8, ha) <> Text.Encoding.UTF8.GetString(b, 8, hb) then
                        r.Problems.Add(sprintf "tests/fixtures/%s: the header (names, shapes, offsets) differs" f)
                    else
                        for i in 8 + ha .. 4 .. a.Length - 4 do
                            let x, y = float (BitConverter.ToSingle(a, i)), float (BitConverter.ToSingle(b, i))
                            r.Floats <- r.Floats + 1
                            let scale = max 1.0 (max (abs x) (abs y))
                            if abs (x - y) > fixtureTolerance * scale then
                                r.Problems.Add(sprintf "tests/fixtures/%s: float at byte %d: committed %g, regenerated %g" f i x y)
                            elif x <> y then
                                r.Moved <- r.Moved + 1
                                if abs (x - y) / scale > r.MaxRel then
                                    r.MaxRel <- abs (x - y) / scale
                                    r.MaxWhere <- sprintf "tests/fixtures/%s byte %d" f i
                if r.Problems.Count > 0 then
                    let limit = 20
                    Error [ yield! Seq.truncate limit r.Problems; if r.Problems.Count > limit then sprintf "... and %d more differences" (r.Problems.Count - limit) ]
                else
                    let moved = if r.Moved = 0 then "all bit-identical" else sprintf "%d differ in the last bits, at most %.2g relative, at %s" r.Moved r.MaxRel r.MaxWhere
                    Ok(
                        sprintf
                            "%d JSON files, %d cases, %d safetensors files: %d floats within %g relative (%s), %d other values identical; %d images and weight files byte-identical"
                            r.Files
                            r.Cases
                            tensorFiles.Length
                            r.Floats
                            fixtureTolerance
                            moved
                            r.Others
                            binaries.Length
                    )
        finally
            try
                Directory.Delete(tmp, true)
            with _ ->
                ()

/// `check`: setup and the local tools, then every check, even after one fails: F# formatting (Fantomas), C#
/// formatting (dotnet format: whitespace, then the style rules .editorconfig enforces) and the fixtures.
/// Prints what each checked and how long it took; fails naming every check that failed.
let check () =
    setup ()
    runOrFail "dotnet tool restore" "dotnet" [ "tool"; "restore" ]
    let results = ResizeArray<string * bool * float>()
    let step (name: string) (f: unit -> Result<string, string list>) =
        let sw = Stopwatch.StartNew()
        let result =
            try
                f ()
            with
            | Fail(_, msg) -> Error [ msg ]
            | e -> Error [ e.Message ]
        let secs = sw.Elapsed.TotalSeconds
        match result with
        | Ok what -> say (sprintf "check: %s: ok (%.1f s): %s" name secs what)
        | Error problems ->
            Console.Out.Flush()
            for p in problems do
                eprintfn "[build] check: %s: %s" name p
            Console.Error.Flush()
            say (sprintf "check: %s: FAILED (%.1f s)" name secs)
        results.Add((name, Result.isOk result, secs))
    let verified (what: string) (problem: string) (rc: int) = if rc = 0 then Ok what else Error [ sprintf "exit code %d: %s" rc problem ]
    step "F# formatting" (fun () ->
        run "dotnet" [ "fantomas"; "--check"; "." ]
        |> verified "every .fs/.fsx file (bin/ and obj/ aside) is as Fantomas formats it" "the files named above are not formatted; `dotnet fantomas .` formats them")
    step "C# whitespace" (fun () ->
        run "dotnet" [ "format"; "whitespace"; "--folder"; "--verify-no-changes" ]
        |> verified "every .cs file is as dotnet format whitespace formats it" "the files named above are not formatted; `dotnet format whitespace --folder` formats them")
    step "C# style" (fun () ->
        // dotnet format also loads the F# projects of the solution and says it cannot format them: expected.
        let keep (line: string) = not (line.StartsWith "Could not format '" && line.Contains ".fsproj'")
        runFiltered keep "dotnet" [ "format"; "style"; "Dsl.sln"; "--verify-no-changes" ]
        |> verified
            "the C# projects follow the style rules .editorconfig enforces (severity warning)"
            "the code named above breaks the style rules of .editorconfig; `dotnet format style Dsl.sln` fixes it")
    step "fixtures" checkFixtures
    let failed = [
        for name, ok, _ in results do
            if not ok then name
    ]
    let timings = String.Join(", ", [ for name, _, secs in results -> sprintf "%s %.1f s" name secs ])
    if failed.IsEmpty then say (sprintf "check: all passed (%s)" timings) else fail 1 (sprintf "check failed: %s (%s)" (String.Join(", ", failed)) timings)

// ---------------------------------------------------------------- launch (data-parallel jobs, torchrun's variables)

/// `launch --nproc N [--nnodes M --node-rank R --master ADDR:PORT] <script.fsx | program.dll | executable> [args]`:
/// starts N processes of this node with RANK, WORLD_SIZE (N·M), LOCAL_RANK, MASTER_ADDR and MASTER_PORT (torchrun's
/// names), prefixes each output line with its rank, and when one exits non-zero stops the others and exits with its
/// code. Does not build: run `build` first (or give both targets: `build launch …`).
let launch (args: string list) =
    let rec options (o: Map<string, string>) (rest: string list) =
        match rest with
        | ("--nproc" | "--nproc-per-node" | "--nproc_per_node") :: v :: tail -> options (o.Add("nproc", v)) tail
        | "--nnodes" :: v :: tail -> options (o.Add("nnodes", v)) tail
        | ("--node-rank" | "--node_rank") :: v :: tail -> options (o.Add("node-rank", v)) tail
        | "--master" :: v :: tail -> options (o.Add("master", v)) tail
        | s :: _ when s.StartsWith "--" -> fail 2 (sprintf "launch: unknown option %s (known: --nproc N, --nnodes M, --node-rank R, --master ADDR:PORT)" s)
        | _ -> o, rest
    let o, rest = options Map.empty args
    let number (key: string) (fallback: int) =
        match o.TryFind key with
        | None -> fallback
        | Some v ->
            match Int32.TryParse v with
            | true, n -> n
            | _ -> fail 2 (sprintf "launch: --%s %s is not an integer" key v)
    let nproc, nnodes, nodeRank = number "nproc" 1, number "nnodes" 1, number "node-rank" 0
    if nproc < 1 then fail 2 (sprintf "launch: --nproc %d must be ≥ 1" nproc)
    if nnodes < 1 || nodeRank < 0 || nodeRank >= nnodes then fail 2 (sprintf "launch: --node-rank %d must lie in [0, --nnodes %d)" nodeRank nnodes)
    let address, port =
        match o.TryFind "master" with
        | None when nnodes > 1 -> fail 2 "launch: with --nnodes > 1, give --master ADDR:PORT (rank 0's machine)"
        | None ->
            // A free port on this machine for a single-node job.
            let l = new Net.Sockets.TcpListener(Net.IPAddress.Loopback, 0)
            l.Start()
            let p = (l.LocalEndpoint :?> Net.IPEndPoint).Port
            l.Stop()
            "127.0.0.1", p
        | Some m ->
            let i = m.LastIndexOf ':'
            match (if i > 0 then Int32.TryParse(m.Substring(i + 1)) else (false, 0)) with
            | true, p when p > 0 && p < 65536 -> m.Substring(0, i), p
            | _ -> fail 2 (sprintf "launch: --master %s must be ADDR:PORT" m)
    let program, programArgs =
        match rest with
        | [] -> fail 2 "launch needs a script or program: dotnet fsi build.fsx launch --nproc N <script.fsx> [args]"
        | p :: a ->
            let path = Path.GetFullPath(p, userDir)
            if not (File.Exists path) then fail 2 (sprintf "launch: %s not found" path)
            if path.EndsWith ".fsx" then "dotnet", ("fsi" :: path :: a)
            elif path.EndsWith ".dll" then "dotnet", (path :: a)
            else path, a
    let world = nproc * nnodes
    say (
        sprintf
            "launch: %d processes (ranks %d-%d of %d), store at %s:%d: %s"
            nproc
            (nodeRank * nproc)
            (nodeRank * nproc + nproc - 1)
            world
            address
            port
            (String.Join(" ", programArgs))
    )
    let gate = obj ()
    let procs = [
        for local in 0 .. nproc - 1 ->
            let rank = nodeRank * nproc + local
            let psi = ProcessStartInfo(program, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = userDir)
            for a in programArgs do
                psi.ArgumentList.Add a
            for k, v in [ "RANK", string rank; "WORLD_SIZE", string world; "LOCAL_RANK", string local; "MASTER_ADDR", address; "MASTER_PORT", string port ] do
                psi.Environment.[k] <- v
            let p =
                match Process.Start psi with
                | null -> fail 1 (sprintf "launch: could not start rank %d" rank)
                | p -> p
            let echo (err: bool) (e: DataReceivedEventArgs) =
                if not (isNull e.Data) then lock gate (fun () -> if err then eprintfn "[rank %d] %s" rank e.Data else printfn "[rank %d] %s" rank e.Data)
            p.OutputDataReceived.Add(echo false)
            p.ErrorDataReceived.Add(echo true)
            p.BeginOutputReadLine()
            p.BeginErrorReadLine()
            rank, p
    ]
    // Wait for every process; on the first failure stop the rest and keep its exit code.
    let mutable failure: (int * int) option = None
    let mutable running = procs
    while not running.IsEmpty do
        match running |> List.tryFind (fun (_, p) -> p.HasExited) with
        | Some(rank, p) ->
            p.WaitForExit()
            running <- running |> List.filter (fun (r, _) -> r <> rank)
            if p.ExitCode <> 0 && failure.IsNone then
                failure <- Some(rank, p.ExitCode)
                for r, q in running do
                    say (sprintf "launch: rank %d exited with code %d; stopping rank %d" rank p.ExitCode r)
                    try
                        q.Kill true
                    with _ ->
                        ()
        | None -> Threading.Thread.Sleep 50
    match failure with
    | Some(rank, code) -> fail code (sprintf "launch: rank %d failed with exit code %d" rank code)
    | None -> say (sprintf "launch: all %d processes finished" nproc)

// ---------------------------------------------------------------- clean

let clean () =
    let rec projectDirs (dir: string) =
        seq {
            let name = Path.GetFileName dir
            if name <> ".git" && name <> "bin" && name <> "obj" && name <> "artifacts" then
                if Directory.EnumerateFiles(dir, "*.*proj") |> Seq.exists (fun f -> f.EndsWith ".csproj" || f.EndsWith ".fsproj") then yield dir
                for d in Directory.GetDirectories dir do
                    yield! projectDirs d
        }
    let targets = [
        for d in projectDirs root do
            for sub in [ "bin"; "obj" ] do
                let p = Path.Combine(d, sub)
                if Directory.Exists p then p
        for p in [ Path.Combine(root, "artifacts"); Path.Combine(root, "TestResults") ] do
            if Directory.Exists p then p
    ]
    if targets.IsEmpty then say "clean: nothing to remove."
    for t in targets do
        say (sprintf "clean: removing %s" (Path.GetRelativePath(root, t)))
        Directory.Delete(t, true)

// ---------------------------------------------------------------- command line

let targetsWithArgs = set [ "test"; "demo"; "bench"; "run"; "launch"; "trx-summary" ]
let targetNames = set [ "setup"; "build"; "check"; "clean"; "help" ] + targetsWithArgs

/// Splits the command line into (target, args) pairs.
let rec parse (acc: (string * string list) list) (args: string list) =
    match args, acc with
    | [], _ -> Ok(List.rev acc)
    | "run" :: rest, _ -> Ok(List.rev (("run", rest) :: acc))
    | "launch" :: rest, _ -> Ok(List.rev (("launch", rest) :: acc))
    | "--" :: rest, (t, a) :: prev when targetsWithArgs.Contains t -> Ok(List.rev ((t, a @ rest) :: prev))
    | t :: rest, _ when targetNames.Contains t -> parse ((t, []) :: acc) rest
    | a :: rest, (t, xs) :: prev when targetsWithArgs.Contains t -> parse ((t, xs @ [ a ]) :: prev) rest
    | a :: _, _ -> Error a

let main (argv: string list) =
    Environment.CurrentDirectory <- root
    match parse [] argv with
    | Ok [] ->
        usage ()
        2
    | Error bad ->
        eprintfn "unknown target or argument: %s\n" bad
        usage ()
        2
    | Ok steps when steps |> List.exists (fst >> (=) "help") ->
        usage ()
        0
    | Ok steps ->
        try
            for target, args in steps do
                match target with
                | "setup" -> setup ()
                | "build" -> build ()
                | "check" -> check ()
                | "test" -> test args
                | "demo" -> demo args
                | "bench" -> bench args
                | "run" -> runScript args
                | "launch" -> launch args
                | "clean" -> clean ()
                | "trx-summary" -> trxSummary args
                | other -> fail 2 (sprintf "unknown target %s" other)
            0
        with Fail(code, msg) ->
            Console.Out.Flush()
            if msg <> "" then eprintfn "[build] error: %s" msg
            if code = 0 then 1 else code

exit (main (fsi.CommandLineArgs |> Array.toList |> List.tail))
