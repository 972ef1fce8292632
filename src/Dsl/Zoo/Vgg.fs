namespace Dsl

/// One entry of a VGG configuration (torchvision's `cfgs`): a 3×3 convolution or a 2×2 max pool.
[<RequireQualifiedAccess>]
type VggItem =
    /// A 3×3 convolution (padding 1) with this many filters, then ReLU (batch norm between them in the _bn models).
    | Conv of int
    /// 2×2 max pooling with stride 2 ("M").
    | Pool

/// VGG as torchvision 0.14 builds it (`torchvision.models.vgg`): `features` (convolutions and pools, named by
/// index as torchvision's Sequential), `avgpool` to 7×7, `flatten`, then `classifier` (Linear, ReLU,
/// Dropout 0.5, Linear, ReLU, Dropout 0.5, Linear).
module Vgg =
    let private c n = VggItem.Conv n
    let private m = VggItem.Pool

    /// Configuration "A" (VGG11).
    let cfgA = [ c 64; m; c 128; m; c 256; c 256; m; c 512; c 512; m; c 512; c 512; m ]
    /// Configuration "B" (VGG13).
    let cfgB = [ c 64; c 64; m; c 128; c 128; m; c 256; c 256; m; c 512; c 512; m; c 512; c 512; m ]
    /// Configuration "D" (VGG16).
    let cfgD = [ c 64; c 64; m; c 128; c 128; m; c 256; c 256; c 256; m; c 512; c 512; c 512; m; c 512; c 512; c 512; m ]
    /// Configuration "E" (VGG19).
    let cfgE = [ c 64; c 64; m; c 128; c 128; m; c 256; c 256; c 256; c 256; m; c 512; c 512; c 512; c 512; m; c 512; c 512; c 512; c 512; m ]

    /// torchvision's `make_layers(cfg, batch_norm)`, children named by their Sequential index.
    let features (cfg: VggItem list) (withNorm: bool) : Layer =
        let layers =
            cfg
            |> List.collect (fun item ->
                match item with
                | VggItem.Pool -> [ maxPoolWith { PoolOptions.Default with Stride = Some 2 } 2 ]
                | VggItem.Conv n -> [
                    conv2dWith { torchvisionConv with Padding = Pad 1 } n (3, 3)
                    if withNorm then batchNorm
                    relu
                  ])
        serial (layers |> List.mapi (fun i l -> named (string i) l))

    /// A VGG with any configuration and classifier width (torchvision's is 4096); `IncludeTop = false`
    /// gives `features` only.
    let build (cfg: VggItem list) (withNorm: bool) (hidden: int) (o: ZooOptions) : Layer =
        let dense n = denseWith { DenseOptions.Default with WeightInit = Initializer.normal 0.0 0.01; BiasInit = Initializer.zeros } n
        serial [
            named "features" (features cfg withNorm)
            if o.IncludeTop then
                named "avgpool" (adaptiveAvgPool (7, 7))
                named "flatten" flatten
                named
                    "classifier"
                    (serial [
                        named "0" (dense hidden)
                        named "1" relu
                        named "2" (dropout 0.5)
                        named "3" (dense hidden)
                        named "4" relu
                        named "5" (dropout 0.5)
                        named "6" (dense o.Classes)
                    ])
        ]
