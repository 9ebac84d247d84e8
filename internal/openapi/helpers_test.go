package openapi

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
)

type runtimeObject = runtime.Object

func reflectType(v any) reflect.Type { return reflect.TypeOf(v) }
