// keir-autodiff through Exp(-SqDist(x, y)): d/dx = -2 (x - y) exp(-|x - y|^2) gradin; the
// unused gradient with respect to y is never built.
// RUN: keir compile "Sum_Reduction(Grad(Exp(-SqDist(x,y)), x, e), 0)" --aliases "x=Vi(3)" "y=Vj(3)" "e=Vi(1)" --emit autodiff

// CHECK:      %[[X:.*]] = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64}
// CHECK-NEXT: %[[Y:.*]] = "keir.var"() {cat = 1 : i64, dim = 3 : i64, pos = 1 : i64}
// CHECK-NEXT: %[[D:.*]] = "keir.sqdist"(%[[X]], %[[Y]])
// CHECK-NEXT: %[[N:.*]] = "keir.minus"(%[[D]])
// CHECK-NEXT: %[[F:.*]] = "keir.exp"(%[[N]])
// CHECK-NEXT: %[[E:.*]] = "keir.var"() {cat = 0 : i64, dim = 1 : i64, pos = 2 : i64}
// CHECK-NEXT: %[[A:.*]] = "keir.mult"(%[[E]], %[[F]])
// CHECK-NEXT: %[[B:.*]] = "keir.minus"(%[[A]])
// CHECK-NEXT: %[[S:.*]] = "keir.subtract"(%[[X]], %[[Y]]) : (vector<3xf32>, vector<3xf32>) -> vector<3xf32>
// CHECK-NEXT: %[[C:.*]] = "keir.mult"(%[[B]], %[[S]]) : (vector<1xf32>, vector<3xf32>) -> vector<3xf32>
// CHECK-NEXT: %[[TWO:.*]] = "keir.intcst"() {value = 2 : i64}
// CHECK-NEXT: %[[R:.*]] = "keir.mult"(%[[TWO]], %[[C]])
// CHECK-NEXT: "keir.reduction"(%[[R]]) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<3xf32>) -> ()
// CHECK-NOT:  keir.grad
