// keir-simplify folds constant subtrees in the kernel's dtype: in float32, 1/3 * 1/3 is
// 0.11111112 (float32 arithmetic), not 1/9 rounded once; 1/0 folds to inf. Exp of a constant
// stays (the compiled Exp is a polynomial, not numpy's). Pow(x, 2) becomes Square(x).
// RUN: keir opt %s --pipeline keir-simplify

module {
  func.func @k() attributes {keir.arg_cats = array<i64: 0>, keir.arg_dims = array<i64: 1>} {
    %x = "keir.var"() {cat = 0 : i64, dim = 1 : i64, pos = 0 : i64} : () -> vector<1xf32>
    %third = "keir.intinv"() {n = 3 : i64} : () -> vector<1xf32>
    %ninth = "keir.mult"(%third, %third) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    %zero = "keir.intcst"() {value = 0 : i64} : () -> vector<1xf32>
    %inf = "keir.inv"(%zero) : (vector<1xf32>) -> vector<1xf32>
    %e = "keir.exp"(%ninth) : (vector<1xf32>) -> vector<1xf32>
    %a = "keir.add"(%x, %inf) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    %p = "keir.pow"(%a) {n = 2 : i64} : (vector<1xf32>) -> vector<1xf32>
    %f = "keir.mult"(%p, %e) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%f) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK:      %[[X:.*]] = "keir.var"()
// CHECK-NEXT: %[[NINTH:.*]] = "keir.cst"() {value = 0.111111119389534 : f64} : () -> vector<1xf32>
// CHECK-NEXT: %[[INF:.*]] = "keir.cst"() {value = 0x7FF0000000000000 : f64}
// CHECK-NEXT: %[[E:.*]] = "keir.exp"(%[[NINTH]])
// CHECK-NEXT: %[[A:.*]] = "keir.add"(%[[X]], %[[INF]])
// CHECK-NEXT: %[[P:.*]] = "keir.square"(%[[A]])
// CHECK-NEXT: "keir.mult"(%[[P]], %[[E]])
// CHECK-NOT:  "keir.intinv"
// CHECK-NOT:  "keir.pow"
