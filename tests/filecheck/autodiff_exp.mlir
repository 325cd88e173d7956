// keir-autodiff on Exp: the adjoint is gradin * exp(x), reusing the forward exp value.
// RUN: keir opt %s --pipeline keir-autodiff

module {
  func.func @k() attributes {keir.arg_cats = array<i64: 0, 0>, keir.arg_dims = array<i64: 2, 2>} {
    %x = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64} : () -> vector<2xf64>
    %e = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf64>
    %f = "keir.exp"(%x) : (vector<2xf64>) -> vector<2xf64>
    %g = "keir.grad"(%f, %e) {pos = 0 : i64} : (vector<2xf64>, vector<2xf64>) -> vector<2xf64>
    "keir.reduction"(%g) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<2xf64>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @k()
// CHECK:         %[[X:.*]] = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64}
// CHECK-NEXT:    %[[E:.*]] = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 1 : i64}
// CHECK-NEXT:    %[[F:.*]] = "keir.exp"(%[[X]])
// CHECK-NEXT:    %[[G:.*]] = "keir.mult"(%[[E]], %[[F]]) : (vector<2xf64>, vector<2xf64>) -> vector<2xf64>
// CHECK-NEXT:    "keir.reduction"(%[[G]])
// CHECK-NOT:     keir.grad
