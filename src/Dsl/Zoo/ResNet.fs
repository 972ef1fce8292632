namespace Dsl

/// The residual block of a ResNet: BasicBlock (two 3×3 convolutions, ResNet18/34) or Bottleneck (1×1, 3×3,
/// 1×1 with 4× expansion and the stride on the 3×3, ResNet50 "v1.5").
[<RequireQualifiedAccess>]
type ResNetBlock =
    /// Two 3×3 convolutions.
    | Basic
    /// 1×1 → 3×3 → 1×1 (×4 channels).
    | Bottleneck

/// ResNet as torchvision 0.14 builds it (`torchvision.models.resnet`, groups 1, width per group 64), named as
/// its modules: conv1, bn1, relu, maxpool, layer1..layer4 (blocks "0", "1", … with conv1/bn1/…/downsample),
/// avgpool, flatten, fc.
module ResNet =
    let private expansion (b: ResNetBlock) =
        match b with
        | ResNetBlock.Basic -> 1
        | ResNetBlock.Bottleneck -> 4

    let private conv (filters: int) (kernel: int) (stride: int) =
        conv2dWith { torchvisionConv with Stride = stride; Padding = Pad((kernel - 1) / 2); Bias = false } filters (kernel, kernel)

    /// One block from `inplanes` channels to `planes`·expansion, with a 1×1 projection ("downsample") when the
    /// stride or the channel count changes.
    let block (kind: ResNetBlock) (inplanes: int) (planes: int) (stride: int) : Layer =
        let main =
            match kind with
            | ResNetBlock.Basic -> serial [ named "conv1" (conv planes 3 stride); named "bn1" batchNorm; named "relu" relu; named "conv2" (conv planes 3 1); named "bn2" batchNorm ]
            | ResNetBlock.Bottleneck ->
                serial [
                    named "conv1" (conv planes 1 1)
                    named "bn1" batchNorm
                    named "relu1" relu
                    named "conv2" (conv planes 3 stride)
                    named "bn2" batchNorm
                    named "relu2" relu
                    named "conv3" (conv (planes * 4) 1 1)
                    named "bn3" batchNorm
                ]
        let out = planes * expansion kind
        let down = if stride <> 1 || inplanes <> out then Some("downsample", serial [ named "0" (conv out 1 stride); named "1" batchNorm ]) else None
        residualSum main down (Some relu)

    /// A ResNet with any block, block counts per stage, stage widths (torchvision's are 64, 128, 256, 512) and
    /// stem width (64); `IncludeTop = false` ends after the last stage.
    let build (kind: ResNetBlock) (layers: int list) (widths: int list) (stem: int) (o: ZooOptions) : Layer =
        if List.length layers <> List.length widths || List.isEmpty layers then
            invalidArg "layers" (sprintf "ResNet.build: %d block counts but %d widths; give one count per stage" layers.Length widths.Length)
        let stages =
            List.zip layers widths
            |> List.indexed
            |> List.mapFold
                (fun inplanes (i, (n, planes)) ->
                    let stride = if i = 0 then 1 else 2
                    let blocks = [
                        for j in 0 .. n - 1 -> named (string j) (block kind (if j = 0 then inplanes else planes * expansion kind) planes (if j = 0 then stride else 1))
                    ]
                    named (sprintf "layer%d" (i + 1)) (serial blocks), planes * expansion kind)
                stem
            |> fst
        serial [
            named "conv1" (conv2dWith { torchvisionConv with Stride = 2; Padding = Pad 3; Bias = false } stem (7, 7))
            named "bn1" batchNorm
            named "relu" relu
            named "maxpool" (maxPoolWith { PoolOptions.Default with Stride = Some 2; Padding = Pad 1 } 3)
            yield! stages
            if o.IncludeTop then
                named "avgpool" (adaptiveAvgPool (1, 1))
                named "flatten" flatten
                named "fc" (dense o.Classes)
        ]
