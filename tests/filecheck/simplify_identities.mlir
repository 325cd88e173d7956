// keir-simplify: exact identities fire (x * 1, -(-x), x + (-y), constant folding in float32),
// the inexact ones do not: x * 0 (inf * 0 is NaN) and x + 0 (-0 + 0 is +0) stay.
// RUN: keir opt %s --pipeline keir-simplify

module {
  func.func @k() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 3, 1>} {
    %x = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64} : () -> vector<3xf32>
    %b = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 1 : i64} : () -> vector<1xf32>
    %zero = "keir.intcst"() {value = 0 : i64} : () -> vector<1xf32>
    %two = "keir.intcst"() {value = 2 : i64} : () -> vector<1xf32>
    %half = "keir.cst"() {value = 5.000000e-01 : f64} : () -> vector<1xf32>
    %one = "keir.mult"(%two, %half) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    %x1 = "keir.mult"(%x, %one) : (vector<3xf32>, vector<1xf32>) -> vector<3xf32>
    %n = "keir.minus"(%x1) : (vector<3xf32>) -> vector<3xf32>
    %nn = "keir.minus"(%n) : (vector<3xf32>) -> vector<3xf32>
    %nb = "keir.minus"(%b) : (vector<1xf32>) -> vector<1xf32>
    %s = "keir.add"(%nn, %nb) : (vector<3xf32>, vector<1xf32>) -> vector<3xf32>
    %z = "keir.mult"(%s, %zero) : (vector<3xf32>, vector<1xf32>) -> vector<3xf32>
    %t = "keir.add"(%z, %zero) : (vector<3xf32>, vector<1xf32>) -> vector<3xf32>
    "keir.reduction"(%t) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<3xf32>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @k()
// CHECK:         %[[X:.*]] = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64}
// CHECK-NEXT:    %[[B:.*]] = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 1 : i64}
// CHECK-NEXT:    %[[ZERO:.*]] = "keir.intcst"() {value = 0 : i64}
// CHECK-NEXT:    %[[S:.*]] = "keir.subtract"(%[[X]], %[[B]]) : (vector<3xf32>, vector<1xf32>) -> vector<3xf32>
// CHECK-NEXT:    %[[Z:.*]] = "keir.mult"(%[[S]], %[[ZERO]])
// CHECK-NEXT:    %[[T:.*]] = "keir.add"(%[[Z]], %[[ZERO]])
// CHECK-NEXT:    "keir.reduction"(%[[T]])
// CHECK-NOT:     "keir.minus"
