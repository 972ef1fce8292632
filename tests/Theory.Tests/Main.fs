/// The test program: `dotnet run --project tests/Theory.Tests [-- expecto args]` runs every test of this
/// assembly, one after another, after the one-time set-up (`Helpers.setUp`: one intra-op thread).
module Dsl.Theory.Tests.Main

open Expecto

/// Sets up once, then runs the tests in sequence; Expecto's command line (`--filter-test-case`,
/// `--junit-summary`, `--help`, …) applies. The exit code is 0 when every test passed.
[<EntryPoint>]
let main argv =
    Helpers.setUp ()
    runTestsInAssemblyWithCLIArgs [ Sequenced ] argv
