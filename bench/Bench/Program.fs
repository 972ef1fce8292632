/// Dsl's benchmark harness (see bench/README.md).
///   Bench [run] [--quick] [--scaling] [--only B1,B3,S1,...] [--rounds N] [--threads N] [--budget SECONDS] [--no-build] [--out FILE]
///   Bench worker [--threads N] [--blas N]     the Dsl side behind the protocol (started by the orchestrator)
///   Bench profile [B1 B2 B3 B4] [--threads N] [--steps N]   Stopwatch breakdowns of the Dsl side
///   Bench data [--reps N]                    the data pipeline's timings (Fashion-MNIST load, batching vs an MLP epoch, clocks)
///   Bench b7-rank key=value …                one rank of B7, data-parallel training (started by the orchestrator)
module Bench.Program

open System

let usage () =
    eprintfn
        """usage: Bench [run] [options]        the benchmark (dotnet fsi build.fsx bench [options])
  --quick             tiny repeat counts (a smoke run, figures not meaningful)
  --scaling           run the scaling series S1-S4 (bench/README.md, "How cost grows") instead of B1-B9
  --only B1,B2,...    run only these benchmarks or series (B1..B9, B8 = B8R and B8M, B7 = data-parallel; S1..S4)
  --rounds N          measured rounds per benchmark (default B1-B4 7/7/6/3, B8/B9 3, B6 16; S1/S2 3, S3 4, S4 2)
  --threads N         intra-op threads of every side (default: the number of cores)
  --budget SECONDS    stop starting rounds after this much time in all (default 600)
  --no-build          do not (re)build the C++ side
  --out FILE          results file (default bench/results.json)
Bench worker [--threads N] [--blas N]     the Dsl side (started by the harness)
Bench profile [B1 B2 B3 B4] [--threads N] [--steps N]   where the Dsl side's time goes
Bench data [--reps N]                    Fashion-MNIST load, batching against an MLP epoch, 18,000 clocks
Bench images [--reps N]                  decode + resize 2,000 JPEG/PNG files to 64x64 and 224x224 (SkiaSharp)
Bench b7-rank mode=epoch|allreduce ...   one rank of B7 (started by the harness, RANK/WORLD_SIZE/MASTER_* set)"""

let rec private parse (o: Orchestrator.Options) (args: string list) : Orchestrator.Options option =
    match args with
    | [] -> Some o
    | "--quick" :: rest -> parse { o with Quick = true } rest
    | "--scaling" :: rest -> parse { o with Scaling = true } rest
    | "--only" :: ids :: rest ->
        let s = ids.Split([| ','; ' ' |], StringSplitOptions.RemoveEmptyEntries) |> Array.map (fun x -> x.Trim().ToUpperInvariant()) |> Set.ofArray
        parse { o with Only = Some s } rest
    | "--rounds" :: n :: rest -> parse { o with Rounds = Some(int n) } rest
    | "--threads" :: n :: rest -> parse { o with Threads = int n } rest
    | "--budget" :: n :: rest -> parse { o with Budget = float n } rest
    | "--no-build" :: rest -> parse { o with Build = false } rest
    | "--out" :: f :: rest -> parse { o with Out = Some(IO.Path.GetFullPath f) } rest
    | a :: _ ->
        eprintfn "bench: unknown argument %s" a
        None

[<EntryPoint>]
let main argv =
    match List.ofArray argv with
    | "worker" :: rest -> DslSide.main rest
    | "profile" :: rest -> Profile.main rest
    | "data" :: rest -> DataBench.run rest
    | "images" :: rest -> ImageBench.run rest
    | "b7-rank" :: rest -> DistBench.rank rest
    | ("help" | "--help" | "-h") :: _ ->
        usage ()
        0
    | args ->
        let args =
            match args with
            | "run" :: rest -> rest
            | a -> a
        let defaults: Orchestrator.Options = {
            Quick = false
            Only = None
            Scaling = false
            Rounds = None
            Threads = Environment.ProcessorCount
            Build = true
            Budget = 600.0
            Out = None
        }
        match parse defaults args with
        | Some o -> Run.run o
        | None ->
            usage ()
            2
