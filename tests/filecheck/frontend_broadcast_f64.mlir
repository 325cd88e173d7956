// Dim-1 operands broadcast: a scalar times a 3-vector is a 3-vector; float64 types throughout.
// RUN: keir compile "Max_Reduction(IntCst(2) * x + 0.5, 1)" --aliases "x=Vi(3)" --dtype float64 --emit keir

// CHECK:      %[[C:.*]] = "keir.intcst"() {value = 2 : i64} : () -> vector<1xf64>
// CHECK-NEXT: %[[X:.*]] = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64} : () -> vector<3xf64>
// CHECK-NEXT: %[[M:.*]] = "keir.mult"(%[[C]], %[[X]]) : (vector<1xf64>, vector<3xf64>) -> vector<3xf64>
// CHECK-NEXT: %[[H:.*]] = "keir.cst"() {value = 5.000000e-01 : f64} : () -> vector<1xf64>
// CHECK-NEXT: "keir.add"(%[[M]], %[[H]]) : (vector<3xf64>, vector<1xf64>) -> vector<3xf64>
// CHECK:      "keir.reduction"({{.*}}) {axis = 0 : i64, k = 0 : i64, kind = "Max"} : (vector<3xf64>) -> ()
