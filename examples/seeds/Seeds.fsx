// What every seed script shares (#load "Seeds.fsx"): its command line (--quick, --data DIR, --epochs N), the
// message and exit code 3 when a data set is not here, and the table of the seed's numbers beside ours.
#load "../../Dsl.fsx"

open System
open Dsl
open Dsl.Data

/// The script's arguments (after the script name).
let args = fsi.CommandLineArgs |> Array.tail

/// `--quick`: a small version (a subset, one epoch) that CI runs.
let quick = args |> Array.contains "--quick"

/// The value after `--name`, if given.
let option (name: string) =
    match Array.tryFindIndex ((=) name) args with
    | Some i when i + 1 < args.Length -> Some args.[i + 1]
    | _ -> None

/// `--data DIR`: where a data set that is not installed here lives.
let data = option "--data"

/// `--epochs N`, or the given default.
let epochs (fallback: int) = option "--epochs" |> Option.map int |> Option.defaultValue fallback

/// The data set's path from --data; without it, says what is needed, where to get it and `otherwise` (what else the
/// user can run), and exits with code 3.
let requireDataOr (otherwise: string) (what: string) (remote: RemoteFile) : string =
    match data with
    | Some d -> d
    | None ->
        eprintfn "This script needs %s: pass --data PATH (the file %s, or the folder it extracts to)." what remote.FileName
        eprintfn "Get it from %s (%s %s), or in F#: Download.Fetch(DataSources.…, \"data\")." (String.Join(" or ", remote.Urls)) (string remote.Kind) remote.Checksum
        eprintfn "%s" otherwise
        exit 3

/// `requireDataOr` for a script whose --quick mode trains on small generated files in the real format.
let requireData (what: string) (remote: RemoteFile) : string = requireDataOr "Or run with --quick, which trains on small generated files in the real format." what remote

/// One row of a seed table: what was run, the seed's number (quoted exactly), ours, and the wall time.
type Row = { Experiment: string; Seed: string; Ours: string; Seconds: float }

/// Prints the seed table.
let printTable (title: string) (rows: Row list) =
    let w1 = rows |> List.map (fun r -> r.Experiment.Length) |> List.fold max 10
    let w2 = rows |> List.map (fun r -> r.Seed.Length) |> List.fold max 4
    let w3 = rows |> List.map (fun r -> r.Ours.Length) |> List.fold max 4
    printfn "\n%s" title
    printfn "%s  %s  %s  %s" ("experiment".PadRight w1) ("seed".PadRight w2) ("ours".PadRight w3) "time"
    printfn "%s" (String('-', w1 + w2 + w3 + 14))
    for r in rows do
        printfn "%s  %s  %s  %6.1f s" (r.Experiment.PadRight w1) (r.Seed.PadRight w2) (r.Ours.PadRight w3) r.Seconds

/// Times a function.
let timed (f: unit -> 'T) : 'T * float =
    let sw = Diagnostics.Stopwatch.StartNew()
    let r = f ()
    r, sw.Elapsed.TotalSeconds

/// Where a script writes its pictures and report: examples/output/<script>/.
let outputDir (script: string) =
    let d = IO.Path.Combine(__SOURCE_DIRECTORY__, "..", "output", script)
    IO.Directory.CreateDirectory d |> ignore
    IO.Path.GetFullPath d
