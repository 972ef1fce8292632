// image.cpp — image files into and out of uint8 tensors with OpenCV: decode (JPEG, PNG, BMP, ...) to
// [C, H, W] in RGB order (or [1, H, W] grayscale), resize or cover-and-centre-crop on the way, and encode.
#include "shim.h"
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <climits>
#include <cstdio>
#include <cstring>

namespace {

// Fit modes (Dsl.Engine.Data.ImageFit): how a decoded image is brought to the requested size.
enum Fit : int32_t { FitNone = 0, FitStretch = 1, FitCover = 2 };
// Interpolation codes (Dsl.Engine.Data.ImageInterpolation).
enum Interp : int32_t { InterpAuto = 0, InterpNearest = 1, InterpLinear = 2, InterpArea = 3, InterpCubic = 4 };
// Encode formats (Dsl.Engine.Data.ImageFormat).
enum Format : int32_t { FormatPng = 0, FormatJpeg = 1, FormatBmp = 2 };

bool starts(const uint8_t* p, int64_t n, const char* magic, size_t m) {
    return n >= static_cast<int64_t>(m) && std::memcmp(p, magic, m) == 0;
}

// The container, from its magic bytes; nullptr when none that OpenCV reads is recognised.
const char* sniff(const uint8_t* p, int64_t n) {
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "JPEG";
    if (starts(p, n, "\x89PNG\r\n\x1a\n", 8)) return "PNG";
    if (starts(p, n, "BM", 2)) return "BMP";
    if (n >= 12 && starts(p, n, "RIFF", 4) && std::memcmp(p + 8, "WEBP", 4) == 0) return "WebP";
    if (starts(p, n, "II*\0", 4) || starts(p, n, "MM\0*", 4)) return "TIFF";
    if (n >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '6') return "PNM";
    return nullptr;
}

std::string hex_prefix(const uint8_t* p, int64_t n) {
    std::string s;
    char buf[8];
    for (int64_t i = 0; i < n && i < 8; i++) {
        std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", p[i]);
        s += buf;
    }
    return s;
}

// libjpeg only warns about a truncated file and fills the missing rows with grey, so truncation is
// checked here. Entropy-coded data never contains FF D9 (a data byte FF is stuffed as FF 00), so a
// complete JPEG has its end-of-image marker after the start of its last scan.
void check_jpeg_complete(const uint8_t* p, int64_t n) {
    int64_t last_sos = -1;
    for (int64_t i = 0; i + 1 < n; i++)
        if (p[i] == 0xFF && p[i + 1] == 0xDA) last_sos = i;
    if (last_sos < 0) throw std::runtime_error("corrupt or truncated JPEG: it has no image data (no start-of-scan marker)");
    for (int64_t i = last_sos + 2; i + 1 < n; i++)
        if (p[i] == 0xFF && p[i + 1] == 0xD9) return;
    throw std::runtime_error("truncated JPEG: the data ends inside the image (no end-of-image marker after the last scan); "
                             "the file was cut short, re-download or re-export it");
}

// A complete PNG ends with its IEND chunk; one without it was cut short (libpng may still decode the rows it got).
void check_png_complete(const uint8_t* p, int64_t n) {
    const int64_t from = n > 4096 ? n - 4096 : 8;
    for (int64_t i = n - 4; i >= from; i--)
        if (std::memcmp(p + i, "IEND", 4) == 0) return;
    throw std::runtime_error("truncated PNG: no IEND chunk at the end of the data; the file was cut short, re-download or re-export it");
}

cv::Mat decode(const void* data, int64_t n, int32_t grayscale) {
    if (data == nullptr || n <= 0) throw std::invalid_argument("empty image data (0 bytes)");
    if (n > INT_MAX) throw std::invalid_argument("image data of " + std::to_string(n) + " bytes is too large (over 2 GiB)");
    auto p = static_cast<const uint8_t*>(data);
    const char* kind = sniff(p, n);
    if (kind == nullptr)
        throw std::invalid_argument("not an image: the data starts with bytes " + hex_prefix(p, n) +
                                    ", which is no JPEG, PNG, BMP, WebP, TIFF or PNM signature");
    if (std::strcmp(kind, "JPEG") == 0) check_jpeg_complete(p, n);
    if (std::strcmp(kind, "PNG") == 0) check_png_complete(p, n);
    cv::Mat buf(1, static_cast<int>(n), CV_8U, const_cast<uint8_t*>(p));
    cv::Mat img = cv::imdecode(buf, grayscale ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
    if (img.empty())
        throw std::runtime_error(std::string("corrupt ") + kind + " data (" + std::to_string(n) + " bytes): the decoder rejected it");
    if (img.depth() != CV_8U) throw std::runtime_error("decoded image is not 8-bit");
    return img;
}

int cv_interp(int32_t code, bool shrinking) {
    switch (code) {
        case InterpAuto: return shrinking ? cv::INTER_AREA : cv::INTER_LINEAR;
        case InterpNearest: return cv::INTER_NEAREST;
        case InterpLinear: return cv::INTER_LINEAR;
        case InterpArea: return cv::INTER_AREA;
        case InterpCubic: return cv::INTER_CUBIC;
        default: throw std::invalid_argument("unknown interpolation code " + std::to_string(code));
    }
}

cv::Mat resize(const cv::Mat& img, int h, int w, int32_t interp) {
    if (img.rows == h && img.cols == w) return img;
    cv::Mat out;
    cv::resize(img, out, cv::Size(w, h), 0, 0, cv_interp(interp, h <= img.rows && w <= img.cols));
    return out;
}

// Brings img to h × w: stretch (ignores the aspect ratio) or cover (scales so the image covers h × w, then
// takes the centre). h, w <= 0 or FitNone keep the decoded size.
cv::Mat fit(const cv::Mat& img, int64_t h, int64_t w, int32_t mode, int32_t interp) {
    if (mode == FitNone) return img;
    if (mode != FitStretch && mode != FitCover) throw std::invalid_argument("unknown fit mode " + std::to_string(mode));
    if (h <= 0 || w <= 0 || h > 65535 || w > 65535)
        throw std::invalid_argument("resize needs a height and width in 1..65535, not " + std::to_string(h) + " x " + std::to_string(w));
    const int H = static_cast<int>(h), W = static_cast<int>(w);
    if (mode == FitStretch) return resize(img, H, W, interp);
    const double scale = std::max(static_cast<double>(H) / img.rows, static_cast<double>(W) / img.cols);
    const int sh = std::max(H, static_cast<int>(std::lround(img.rows * scale)));
    const int sw = std::max(W, static_cast<int>(std::lround(img.cols * scale)));
    cv::Mat scaled = resize(img, sh, sw, interp);
    return scaled(cv::Rect((sw - W) / 2, (sh - H) / 2, W, H));
}

// Writes an 8-bit gray or BGR image as planes [C, H, W] in RGB order at dst (C*H*W bytes).
void to_planes(const cv::Mat& img, uint8_t* dst) {
    const int H = img.rows, W = img.cols;
    const size_t plane = static_cast<size_t>(H) * W;
    if (img.channels() == 1) {
        cv::Mat out(H, W, CV_8UC1, dst);
        img.copyTo(out);
        if (out.data != dst) throw std::logic_error("image: OpenCV reallocated the output plane");
        return;
    }
    if (img.channels() != 3) throw std::runtime_error("decoded image has " + std::to_string(img.channels()) + " channels");
    // OpenCV's order is B, G, R: B goes to plane 2, G to plane 1, R to plane 0.
    cv::Mat planes[3] = {cv::Mat(H, W, CV_8UC1, dst + 2 * plane), cv::Mat(H, W, CV_8UC1, dst + plane), cv::Mat(H, W, CV_8UC1, dst)};
    cv::split(img, planes);
    if (planes[0].data != dst + 2 * plane || planes[2].data != dst) throw std::logic_error("image: OpenCV reallocated the output planes");
}

}  // namespace

extern "C" {

DSL_API dsl_tensor dsl_image_decode(const void* data, int64_t n, int32_t grayscale, int64_t height, int64_t width, int32_t fit_mode,
                                    int32_t interpolation) {
    return dsl::tensor_op([&] {
        cv::Mat img = fit(decode(data, n, grayscale), height, width, fit_mode, interpolation);
        at::Tensor t = at::empty({img.channels(), img.rows, img.cols}, at::kByte);
        to_planes(img, t.data_ptr<uint8_t>());
        return t;
    });
}

DSL_API int32_t dsl_image_decode_into(dsl_tensor batch, int64_t index, const void* data, int64_t n, int32_t grayscale,
                                      int32_t fit_mode, int32_t interpolation) {
    return dsl::status_op([&] {
        const at::Tensor& out = dsl::T(batch);
        if (out.scalar_type() != at::kByte || !out.device().is_cpu() || !out.is_contiguous() || out.dim() != 4)
            throw std::invalid_argument("decode_into: the batch must be a contiguous CPU uint8 tensor [N, C, H, W], not " +
                                        c10::str(out.sizes()) + " " + c10::toString(out.scalar_type()));
        const int64_t N = out.size(0), C = out.size(1), H = out.size(2), W = out.size(3);
        if (index < 0 || index >= N) throw std::out_of_range("decode_into: index " + std::to_string(index) + " is outside the batch of " + std::to_string(N));
        if (C != (grayscale ? 1 : 3))
            throw std::invalid_argument("decode_into: the batch has " + std::to_string(C) + " channels but " + (grayscale ? "grayscale" : "RGB") + " was asked for");
        cv::Mat img = fit(decode(data, n, grayscale), H, W, fit_mode, interpolation);
        if (img.rows != H || img.cols != W)
            throw std::invalid_argument("the image is " + std::to_string(img.cols) + " x " + std::to_string(img.rows) + " (width x height) but the batch holds " +
                                        std::to_string(W) + " x " + std::to_string(H) + " images; give a size to resize to");
        to_planes(img, out.data_ptr<uint8_t>() + index * C * H * W);
    });
}

DSL_API dsl_tensor dsl_image_encode(dsl_tensor image, int32_t format, int32_t quality) {
    return dsl::tensor_op([&] {
        at::Tensor t = dsl::T(image).detach();
        if (t.scalar_type() != at::kByte) throw std::invalid_argument("encode: the image must be uint8, not " + std::string(c10::toString(t.scalar_type())));
        if (t.dim() == 2) t = t.unsqueeze(0);
        if (t.dim() != 3 || (t.size(0) != 1 && t.size(0) != 3) || t.size(1) < 1 || t.size(2) < 1 || t.size(1) > 65535 || t.size(2) > 65535)
            throw std::invalid_argument("encode: the image must be [C, H, W] with C = 1 or 3 (or [H, W]), not " + c10::str(t.sizes()));
        t = t.cpu().contiguous();
        const int C = static_cast<int>(t.size(0)), H = static_cast<int>(t.size(1)), W = static_cast<int>(t.size(2));
        uint8_t* p = t.data_ptr<uint8_t>();
        const size_t plane = static_cast<size_t>(H) * W;
        cv::Mat img;
        if (C == 1) img = cv::Mat(H, W, CV_8UC1, p);
        else {
            std::vector<cv::Mat> bgr = {cv::Mat(H, W, CV_8UC1, p + 2 * plane), cv::Mat(H, W, CV_8UC1, p + plane), cv::Mat(H, W, CV_8UC1, p)};
            cv::merge(bgr, img);
        }
        std::vector<int> params;
        const char* ext;
        switch (format) {
            case FormatPng: ext = ".png"; break;
            case FormatJpeg:
                if (quality < 1 || quality > 100) throw std::invalid_argument("encode: JPEG quality must be in 1..100, not " + std::to_string(quality));
                ext = ".jpg";
                params = {cv::IMWRITE_JPEG_QUALITY, quality};
                break;
            case FormatBmp: ext = ".bmp"; break;
            default: throw std::invalid_argument("encode: unknown format code " + std::to_string(format));
        }
        std::vector<uint8_t> bytes;
        if (!cv::imencode(ext, img, bytes, params)) throw std::runtime_error(std::string("encode: OpenCV could not encode ") + ext);
        at::Tensor out = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
        if (!bytes.empty()) std::memcpy(out.data_ptr<uint8_t>(), bytes.data(), bytes.size());
        return out;
    });
}
}
