/// The test program: `dotnet run --project tests/Bench.Tests [-- expecto args]` runs every test of this assembly.
module Bench.Tests.Main

open Expecto

/// Runs the tests in sequence; Expecto's command line (`--filter-test-case`, `--junit-summary`, …) applies.
[<EntryPoint>]
let main argv = runTestsInAssemblyWithCLIArgs [ Sequenced ] argv
