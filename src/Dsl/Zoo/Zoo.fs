/// The model zoo: torchvision 0.14's VGG, ResNet, MobileNetV2/V3 and EfficientNet-B0 and Keras's MobileNet
/// and Xception as layer values, each taking `ZooOptions`: `Zoo.resnet18 { Zoo.Default with Classes = 4 }`.
/// The builders with every knob (configurations, block counts, widths) are in `Vgg`, `ResNet`, `MobileNet`,
/// `EfficientNet` and `KerasApps`.
[<RequireQualifiedAccess>]
module Dsl.Zoo

open Dsl.Engine
open Dsl.Data

/// 1000 ImageNet classes, with the top, freshly initialised weights.
let Default: ZooOptions = { Classes = 1000; IncludeTop = true; Weights = ZooWeights.None }

/// The Dsl parameter or state path of a torchvision state-dict key, for the torchvision architectures here,
/// which name their layers as torchvision's modules: the same path, except `num_batches_tracked` (a counter
/// the Dsl's batch norm does not keep), which maps to None.
let torchvisionName (key: string) : string option = if key.EndsWith ".num_batches_tracked" then None else Some key

/// The layer with its parameters and state filled from the options' weights when it is built: a file's tensors by
/// path (torchvision's keys), or torchvision's ImageNet file for `name` (fetched into the cache). Every parameter and
/// statistic must come from the file with its shape; keys the model lacks are refused, except without the top
/// (`IncludeTop = false`), where the file's classifier is left out as Keras does. ImageNet weights with the top need
/// 1,000 classes: build without the top and add your head instead.
let withWeights (name: string option) (o: ZooOptions) (layer: Layer) : Layer =
    match o.Weights with
    | ZooWeights.None -> layer
    | weights ->
        let what, file =
            match weights, name with
            | ZooWeights.File path, _ -> sprintf "'%s'" path, (fun () -> path)
            | ZooWeights.ImageNet, Some n ->
                if o.IncludeTop && o.Classes <> 1000 then
                    invalidArg
                        "o"
                        (sprintf
                            "Zoo %s: ImageNet weights classify 1,000 classes, but Classes = %d. Build with IncludeTop = false and add your own head (model surgery), or keep Classes = 1000."
                            n
                            o.Classes)
                sprintf "ImageNet (torchvision's %s)" n, (fun () -> Pretrained.FetchTorchvision n)
            | _ ->
                invalidArg
                    "o"
                    "Zoo: ImageNet weights are known for torchvision's architectures only (Pretrained.Torchvision); for Keras's MobileNet and Xception give the .h5 file: Weights = ZooWeights.File path"
        {
            layer with
                Init =
                    fun ctx ->
                        let b = layer.Init { ctx with Initialize = false }
                        let source = Weights.read (file ())
                        try
                            let byPath = source |> List.choose (fun (k, t) -> torchvisionName k |> Option.map (fun p -> p, t)) |> dict
                            let mine = Tree.toList b.Params @ Tree.toList b.State
                            let problems = [
                                for p, t in mine do
                                    match byPath.TryGetValue p with
                                    | true, s when s.Shape <> t.Shape ->
                                        yield sprintf "'%s' is %s in the file but %s in the model" p (Weights.show (Weights.dims s)) (Weights.show (Weights.dims t))
                                    | true, _ -> ()
                                    | _ -> yield sprintf "'%s' is not in the file" p
                                if o.IncludeTop then
                                    let known = mine |> List.map fst |> set
                                    for k in byPath.Keys do
                                        if not (known.Contains k) then yield sprintf "the file's '%s' is not a parameter of the model" k
                            ]
                            if not problems.IsEmpty then
                                invalidOp (
                                    sprintf
                                        "Zoo: the weights %s do not fit the architecture: %s%s. Check the architecture and its options (Classes, IncludeTop) against the file's."
                                        what
                                        (String.concat "; " (List.truncate 3 problems))
                                        (if problems.Length > 3 then sprintf " (and %d more)" (problems.Length - 3) else "")
                                )
                            use _ = Autograd.NoGrad()
                            for p, t in mine do
                                t.Copy_(byPath.[p]) |> ignore
                        finally
                            Weights.dispose source
                        b
        }

/// VGG11 (configuration A).
let vgg11 (o: ZooOptions) = withWeights (Some "vgg11") o (Vgg.build Vgg.cfgA false 4096 o)
/// VGG11 with batch norm.
let vgg11Bn (o: ZooOptions) = withWeights (Some "vgg11_bn") o (Vgg.build Vgg.cfgA true 4096 o)
/// VGG13 (configuration B).
let vgg13 (o: ZooOptions) = withWeights (Some "vgg13") o (Vgg.build Vgg.cfgB false 4096 o)
/// VGG13 with batch norm.
let vgg13Bn (o: ZooOptions) = withWeights (Some "vgg13_bn") o (Vgg.build Vgg.cfgB true 4096 o)
/// VGG16 (configuration D).
let vgg16 (o: ZooOptions) = withWeights (Some "vgg16") o (Vgg.build Vgg.cfgD false 4096 o)
/// VGG16 with batch norm.
let vgg16Bn (o: ZooOptions) = withWeights (Some "vgg16_bn") o (Vgg.build Vgg.cfgD true 4096 o)
/// VGG19 (configuration E).
let vgg19 (o: ZooOptions) = withWeights (Some "vgg19") o (Vgg.build Vgg.cfgE false 4096 o)
/// VGG19 with batch norm.
let vgg19Bn (o: ZooOptions) = withWeights (Some "vgg19_bn") o (Vgg.build Vgg.cfgE true 4096 o)
/// ResNet18: BasicBlocks [2, 2, 2, 2].
let resnet18 (o: ZooOptions) = withWeights (Some "resnet18") o (ResNet.build ResNetBlock.Basic [ 2; 2; 2; 2 ] [ 64; 128; 256; 512 ] 64 o)
/// ResNet34: BasicBlocks [3, 4, 6, 3].
let resnet34 (o: ZooOptions) = withWeights (Some "resnet34") o (ResNet.build ResNetBlock.Basic [ 3; 4; 6; 3 ] [ 64; 128; 256; 512 ] 64 o)
/// ResNet50: Bottlenecks [3, 4, 6, 3].
let resnet50 (o: ZooOptions) = withWeights (Some "resnet50") o (ResNet.build ResNetBlock.Bottleneck [ 3; 4; 6; 3 ] [ 64; 128; 256; 512 ] 64 o)
/// MobileNetV2 (width 1.0, dropout 0.2).
let mobilenetV2 (o: ZooOptions) = withWeights (Some "mobilenet_v2") o (MobileNet.v2With 1.0 MobileNet.v2Stages 0.2 o)
/// MobileNetV3-Small (width 1.0, dropout 0.2).
let mobilenetV3Small (o: ZooOptions) =
    withWeights (Some "mobilenet_v3_small") o (MobileNet.v3With 1.0 (fst MobileNet.v3SmallBlocks) (snd MobileNet.v3SmallBlocks) 0.2 o)
/// EfficientNet-B0 (dropout 0.2, stochastic depth 0.2).
let efficientnetB0 (o: ZooOptions) =
    withWeights (Some "efficientnet_b0") o (EfficientNet.build 1.0 1.0 EfficientNet.b0Stages 0.2 0.2 BatchNormOptions.Default o)
/// Keras's MobileNet (alpha 1.0, depth multiplier 1, dropout 0.001), for 224×224 inputs.
let mobilenet (o: ZooOptions) = withWeights None o (KerasApps.mobilenetWith 1.0 1 0.001 o)
/// Keras's Xception, for 299×299 inputs.
let xception (o: ZooOptions) = withWeights None o (KerasApps.xception o)

/// Builds an architecture for per-sample inputs of `input` (channels first): `Zoo.build [ 3L; 224L; 224L ] o Zoo.resnet18`.
let build (input: int64 list) (o: ZooOptions) (architecture: ZooOptions -> Layer) : Model = Model.build input (architecture o)
