// keir-verify leaves valid keir IR as it is; the driver runs it at the start of every
// pipeline, `keir opt` before the user's passes (bad dims: tests/test_verify.py).
// RUN: keir opt %s --pipeline keir-verify

module {
  func.func @k() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 3, 3>} {
    %x = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64} : () -> vector<3xf32>
    %y = "keir.var"() {cat = 1 : i64, dim = 3 : i64, pos = 1 : i64} : () -> vector<3xf32>
    %d = "keir.sqdist"(%x, %y) : (vector<3xf32>, vector<3xf32>) -> vector<1xf32>
    "keir.reduction"(%d) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK:      "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64}
// CHECK-NEXT: "keir.var"() {cat = 1 : i64, dim = 3 : i64, pos = 1 : i64}
// CHECK-NEXT: "keir.sqdist"
// CHECK-NEXT: "keir.reduction"
