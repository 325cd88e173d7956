// keir-autodiff with broadcasting: in s * x (s of dim 1, x of dim 3) the adjoint of s is
// gradin * x of dim 3, summed back to dim 1.
// RUN: keir opt %s --pipeline keir-autodiff

module {
  func.func @k() attributes {keir.arg_cats = array<i64: 2, 0, 0>, keir.arg_dims = array<i64: 1, 3, 3>} {
    %s = "keir.var"() {cat = 2 : i64, dim = 1 : i64, pos = 0 : i64} : () -> vector<1xf32>
    %x = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 1 : i64} : () -> vector<3xf32>
    %e = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 2 : i64} : () -> vector<3xf32>
    %f = "keir.mult"(%s, %x) : (vector<1xf32>, vector<3xf32>) -> vector<3xf32>
    %g = "keir.grad"(%f, %e) {pos = 0 : i64} : (vector<3xf32>, vector<3xf32>) -> vector<1xf32>
    "keir.reduction"(%g) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK:      %[[X:.*]] = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 1 : i64}
// CHECK-NEXT: %[[E:.*]] = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 2 : i64}
// CHECK-NEXT: %[[M:.*]] = "keir.mult"(%[[E]], %[[X]]) : (vector<3xf32>, vector<3xf32>) -> vector<3xf32>
// CHECK-NEXT: %[[S:.*]] = "keir.sum"(%[[M]]) : (vector<3xf32>) -> vector<1xf32>
// CHECK-NEXT: "keir.reduction"(%[[S]])
