// The one line a script needs:  #load "Dsl.fsx"  (with the path from your script to this file).
// It references the Release build of Dsl (`dotnet fsi build.fsx build` makes it): the engine, the data
// library and the DSL; their native libraries are found next to them, so no environment variables are needed.
#r "src/Dsl/bin/Release/net10.0/Dsl.Engine.dll"
#r "src/Dsl/bin/Release/net10.0/Dsl.Data.dll"
#r "src/Dsl/bin/Release/net10.0/Dsl.dll"

// F# interactive shows Dsl values as short texts (Dsl.Display) instead of dumping their records.
fsi.AddPrinter<Dsl.Engine.Tensor>(Dsl.Display.tensor)
fsi.AddPrinter<Dsl.Params>(Dsl.Display.parameters)
fsi.AddPrinter<Dsl.Model>(Dsl.Display.model)
fsi.AddPrinter<Dsl.Trained>(Dsl.Display.trained)
fsi.AddPrinter<Dsl.Layer>(Dsl.Display.layer)
fsi.AddPrinter<Dsl.Value>(Dsl.Display.value)
fsi.AddPrinter<Dsl.EpochLogs>(Dsl.Display.epoch)
fsi.AddPrinter<Dsl.Evaluation>(fun e -> e.ToString())
