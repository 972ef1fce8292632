/// The test program: `dotnet run --project tests/Dsl.Tests [-- expecto args]` runs every test of this
/// assembly, one after another (several tests capture Console.Out, time training or count live tensors).
module Dsl.Tests.Main

open Expecto

/// Runs the tests in sequence; Expecto's command line (`--filter-test-case`, `--junit-summary`, `--help`, …)
/// applies. The exit code is 0 when every test passed.
/// `--checkpoint-child DIR EPOCHS` runs the child process of the SIGKILL checkpoint test instead, and
/// `--distributed-worker key=value …` one rank of the data-parallel tests (Distributed.fs).
[<EntryPoint>]
let main argv =
    match argv with
    | [| "--checkpoint-child"; dir; epochs |] -> Reliability.checkpointChild dir (int epochs)
    | args when args.Length > 0 && args.[0] = "--distributed-worker" -> Distributed.worker args.[1..]
    | _ -> runTestsInAssemblyWithCLIArgs [ Sequenced ] argv
