// keir-cse alone: the second, identical SqDist is replaced by the first (same name, operands
// and attributes); ops that differ in an attribute (Pow with n = 2 and n = 3) both stay.
// RUN: keir opt %s --pipeline keir-cse

module {
  func.func @k() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 3, 3>} {
    %x = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64} : () -> vector<3xf32>
    %y = "keir.var"() {cat = 1 : i64, dim = 3 : i64, pos = 1 : i64} : () -> vector<3xf32>
    %d1 = "keir.sqdist"(%x, %y) : (vector<3xf32>, vector<3xf32>) -> vector<1xf32>
    %d2 = "keir.sqdist"(%x, %y) : (vector<3xf32>, vector<3xf32>) -> vector<1xf32>
    %p2 = "keir.pow"(%d1) {n = 2 : i64} : (vector<1xf32>) -> vector<1xf32>
    %p3 = "keir.pow"(%d2) {n = 3 : i64} : (vector<1xf32>) -> vector<1xf32>
    %f = "keir.mult"(%p2, %p3) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%f) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK:         %[[D:.*]] = "keir.sqdist"
// CHECK-NOT:     "keir.sqdist"
// CHECK:         %[[P2:.*]] = "keir.pow"(%[[D]]) {n = 2 : i64}
// CHECK-NEXT:    %[[P3:.*]] = "keir.pow"(%[[D]]) {n = 3 : i64}
// CHECK-NEXT:    "keir.mult"(%[[P2]], %[[P3]])
