// Quickstart: define, build, summarise and run an MLP and a CNN.
// Run with:  dotnet fsi build.fsx run examples/quickstart.fsx
#load "../Dsl.fsx"
open Dsl
open Dsl.Engine

let mlp = flatten >-> dense 128 >-> relu >-> dense 10
let cnn = serial [ conv2d 32 3; relu; maxPool 2; conv2d 64 3; relu; maxPool 2; flatten; dense 64; relu; dense 10 ]

for name, net in [ "MLP", mlp; "CNN", cnn ] do
    let model = Model.build [ 1L; 28L; 28L ] net // per-sample shape: channels, height, width
    Summary.print model
    let x = Torch.Randn [| 4L; 1L; 28L; 28L |] // a batch of 4 images
    let logits = Model.forward model x
    printfn "%s: %d parameters, logits shape [%s]\n" name (Model.countParams model) (String.concat "; " (Array.map string logits.Shape))
