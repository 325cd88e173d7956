// keir-fuse merges two kernels over the same axis (arguments: the union), keir-cse then
// computes their shared Exp(-SqDist(x, y)) once; both reductions stay, in order.
// RUN: keir opt %s --pipeline keir-fuse,keir-cse

module {
  func.func @value() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 3, 3>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64} : () -> vector<3xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 3 : i64, pos = 1 : i64} : () -> vector<3xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<3xf32>, vector<3xf32>) -> vector<1xf32>
    %3 = "keir.exp"(%2) : (vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%3) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
  func.func @weighted() attributes {keir.arg_cats = array<i64: 0, 1, 1>, keir.arg_dims = array<i64: 3, 3, 2>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64} : () -> vector<3xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 3 : i64, pos = 1 : i64} : () -> vector<3xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<3xf32>, vector<3xf32>) -> vector<1xf32>
    %3 = "keir.exp"(%2) : (vector<1xf32>) -> vector<1xf32>
    %4 = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 2 : i64} : () -> vector<2xf32>
    %5 = "keir.mult"(%3, %4) : (vector<1xf32>, vector<2xf32>) -> vector<2xf32>
    "keir.reduction"(%5) {axis = 1 : i64, k = 0 : i64, kind = "Max"} : (vector<2xf32>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @value()
// CHECK-SAME:    keir.arg_cats = array<i64: 0, 1, 1>, keir.arg_dims = array<i64: 3, 3, 2>
// CHECK-COUNT-1: "keir.sqdist"
// CHECK:         "keir.exp"
// CHECK-NOT:     "keir.exp"
// CHECK:         "keir.reduction"({{.*}}) {axis = 1 : i64, k = 0 : i64, kind = "Sum"}
// CHECK-NOT:     "keir.exp"
// CHECK:         "keir.mult"
// CHECK:         "keir.reduction"({{.*}}) {axis = 1 : i64, k = 0 : i64, kind = "Max"}
// CHECK-NOT:     func.func @weighted
// CHECK-NOT:     "keir.exp"
