// The one line a script needs:  #load "Dsl.fsx"  (with the path from your script to this file).
// It references the Release build of Dsl (`dotnet fsi build.fsx build` makes it): the engine, the data
// library and the DSL; their native libraries are found next to them, so no environment variables are needed.
#r "src/Dsl/bin/Release/net10.0/Dsl.Engine.dll"
#r "src/Dsl/bin/Release/net10.0/Dsl.Data.dll"
#r "src/Dsl/bin/Release/net10.0/Dsl.dll"
