/// The test program: `dotnet run --project tests/Examples.Tests [-- expecto args]` runs the example
/// scripts one after another (each is a child process that uses every core).
module Dsl.Examples.Tests.Main

open Expecto

/// Runs the tests in sequence; Expecto's command line (`--filter-test-case`, `--junit-summary`, `--help`, …)
/// applies. The exit code is 0 when every test passed.
[<EntryPoint>]
let main argv = runTestsInAssemblyWithCLIArgs [ Sequenced ] argv
