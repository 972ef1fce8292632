/// The model zoo: torchvision 0.14's VGG, ResNet, MobileNetV2/V3 and EfficientNet-B0 and Keras's MobileNet
/// and Xception as layer values, each taking `ZooOptions`: `Zoo.resnet18 { Zoo.Default with Classes = 4 }`.
/// The builders with every knob (configurations, block counts, widths) are in `Vgg`, `ResNet`, `MobileNet`,
/// `EfficientNet` and `KerasApps`.
[<RequireQualifiedAccess>]
module Dsl.Zoo

open Dsl.Engine

/// 1000 ImageNet classes, with the top, freshly initialised weights.
let Default: ZooOptions = { Classes = 1000; IncludeTop = true; Weights = Weights.None }

/// VGG11 (configuration A).
let vgg11 (o: ZooOptions) = Vgg.build Vgg.cfgA false 4096 o
/// VGG11 with batch norm.
let vgg11Bn (o: ZooOptions) = Vgg.build Vgg.cfgA true 4096 o
/// VGG13 (configuration B).
let vgg13 (o: ZooOptions) = Vgg.build Vgg.cfgB false 4096 o
/// VGG13 with batch norm.
let vgg13Bn (o: ZooOptions) = Vgg.build Vgg.cfgB true 4096 o
/// VGG16 (configuration D).
let vgg16 (o: ZooOptions) = Vgg.build Vgg.cfgD false 4096 o
/// VGG16 with batch norm.
let vgg16Bn (o: ZooOptions) = Vgg.build Vgg.cfgD true 4096 o
/// VGG19 (configuration E).
let vgg19 (o: ZooOptions) = Vgg.build Vgg.cfgE false 4096 o
/// VGG19 with batch norm.
let vgg19Bn (o: ZooOptions) = Vgg.build Vgg.cfgE true 4096 o
/// ResNet18: BasicBlocks [2, 2, 2, 2].
let resnet18 (o: ZooOptions) = ResNet.build ResNetBlock.Basic [ 2; 2; 2; 2 ] [ 64; 128; 256; 512 ] 64 o
/// ResNet34: BasicBlocks [3, 4, 6, 3].
let resnet34 (o: ZooOptions) = ResNet.build ResNetBlock.Basic [ 3; 4; 6; 3 ] [ 64; 128; 256; 512 ] 64 o
/// ResNet50: Bottlenecks [3, 4, 6, 3].
let resnet50 (o: ZooOptions) = ResNet.build ResNetBlock.Bottleneck [ 3; 4; 6; 3 ] [ 64; 128; 256; 512 ] 64 o
/// MobileNetV2 (width 1.0, dropout 0.2).
let mobilenetV2 (o: ZooOptions) = MobileNet.v2With 1.0 MobileNet.v2Stages 0.2 o
/// MobileNetV3-Small (width 1.0, dropout 0.2).
let mobilenetV3Small (o: ZooOptions) = MobileNet.v3With 1.0 (fst MobileNet.v3SmallBlocks) (snd MobileNet.v3SmallBlocks) 0.2 o
/// EfficientNet-B0 (dropout 0.2, stochastic depth 0.2).
let efficientnetB0 (o: ZooOptions) = EfficientNet.build 1.0 1.0 EfficientNet.b0Stages 0.2 0.2 BatchNormOptions.Default o
/// Keras's MobileNet (alpha 1.0, depth multiplier 1, dropout 0.001), for 224×224 inputs.
let mobilenet (o: ZooOptions) = KerasApps.mobilenetWith 1.0 1 0.001 o
/// Keras's Xception, for 299×299 inputs.
let xception (o: ZooOptions) = KerasApps.xception o

/// The Dsl parameter or state path of a torchvision state-dict key, for the torchvision architectures here,
/// which name their layers as torchvision's modules: the same path, except `num_batches_tracked` (a counter
/// the Dsl's batch norm does not keep), which maps to None.
let torchvisionName (key: string) : string option = if key.EndsWith ".num_batches_tracked" then None else Some key

/// Builds an architecture for per-sample inputs of `input` (channels first) with the options' weights.
/// Weights.None initialises as the original library does; ImageNet and File fail with a message saying
/// what to do instead (loading is not part of this build yet).
let build (input: int64 list) (o: ZooOptions) (architecture: ZooOptions -> Layer) : Model =
    match o.Weights with
    | Weights.None -> Model.build input (architecture o)
    | Weights.ImageNet ->
        raise (
            System.NotSupportedException
                "Zoo.build: Weights.ImageNet is not available (no downloads in this build); build with Weights.None and load a converted safetensors file into Model.withParams/withState"
        )
    | Weights.File path ->
        raise (
            System.NotSupportedException(
                sprintf
                    "Zoo.build: Weights.File \"%s\" is not loaded yet; build with Weights.None and load the file (Safetensors.Load, Zoo.torchvisionName) into Model.withParams/withState"
                    path
            )
        )
